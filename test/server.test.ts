import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { cudaUnavailableReason } from '../src/inference/cuda-availability.js';
import { writeFixtureRepository } from './helpers/fixture-models.js';
import { dotImage } from './helpers/images.js';

// The real entry point from its TypeScript source, through tsx's loader (no build step before tests).
const serverFile = fileURLToPath(new URL('../src/server.ts', import.meta.url));

/** Starts the real server process and resolves with its URL once it listens and its models are ready. */
async function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; logs: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', serverFile], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ENSURE_DEFAULT_MODEL: 'false',
      EXECUTION_PROVIDERS: 'cpu',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    let address: string | null = null;
    const timer = setTimeout(() => reject(new Error(`server did not get ready: ${logs.join('\n')}`)), 30_000);
    child.stdout!.on('data', (chunk) => {
      buffered += String(chunk);
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        const listening = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (listening && !address) address = listening[1]!;
        if (/"msg":"model ready"/.test(line) && address) {
          clearTimeout(timer);
          resolve(address);
        }
      }
    });
    child.stderr!.on('data', (chunk) => logs.push(String(chunk)));
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${logs.join('\n')}`)));
  });
  return { child, url, logs };
}

test('SIGTERM mid-load: every accepted request is answered and the process exits 0', async () => {
  const repository = await mkdtemp(path.join(os.tmpdir(), 'huber-server-'));
  await writeFixtureRepository(repository, { models: ['resnet18-huber-tiny'] });
  const { child, url, logs } = await startServer({
    MODEL_REPOSITORY: repository,
    INTRA_OP_THREADS: '1',
    SHUTDOWN_GRACE_MS: '20000',
  });
  try {
    const image = (await dotImage(320, 240, [{ x: 100, y: 100, sigma: 4 }])).toString('base64');
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const requests = Array.from({ length: 8 }, () =>
      fetch(`${url}/v1/models/resnet18-huber-tiny/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({ image }),
      }).then(async (response) => ({ status: response.status, body: (await response.json()) as any })),
    );
    // Let the server accept all of them (they queue behind one worker), then ask it to stop.
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill('SIGTERM');
    const answers = await Promise.all(requests);
    for (const answer of answers) {
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.instances[0].keypoints.length, 98);
    }
    assert.equal(await exited, 0, logs.join('\n'));
    assert.ok(
      logs.some((line) => /"msg":"closed"/.test(line)),
      'the shutdown completed',
    );
    await assert.rejects(fetch(`${url}/healthz`), 'no longer accepting connections');
  } finally {
    child.kill('SIGKILL');
    await rm(repository, { recursive: true, force: true });
  }
});

test('a bad configuration stops start-up with the variable named, exit code 2', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', serverFile], {
    env: { ...process.env, PORT: 'eighty', MAX_BATCH_SIZE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 2);
  assert.match(stderr, /PORT="eighty"/);
  assert.match(stderr, /MAX_BATCH_SIZE="0"/);
});

test('start-up fails when no model can be loaded', async () => {
  const repository = await mkdtemp(path.join(os.tmpdir(), 'huber-server-'));
  await writeFixtureRepository(repository, { models: [], broken: ['corrupt-onnx'] });
  const child = spawn(process.execPath, ['--import', 'tsx', serverFile], {
    env: { ...process.env, PORT: '0', ENSURE_DEFAULT_MODEL: 'false', EXECUTION_PROVIDERS: 'cpu', MODEL_REPOSITORY: repository },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout!.on('data', (chunk) => (stdout += String(chunk)));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  await rm(repository, { recursive: true, force: true });
  assert.equal(code, 1);
  assert.match(stdout, /no model could be loaded/);
});

test('asked for CUDA where it cannot load, start-up prints no ONNX Runtime error and one line saying why CPU runs', async () => {
  const reason = cudaUnavailableReason();
  const repository = await mkdtemp(path.join(os.tmpdir(), 'huber-server-'));
  await writeFixtureRepository(repository, { models: ['dots', 'dots-nu'] });
  const { child, logs } = await startServer({ MODEL_REPOSITORY: repository, EXECUTION_PROVIDERS: 'cuda,cpu' });
  try {
    const text = logs.join('\n');
    if (reason === null) {
      // A machine with CUDA: nothing to explain, and the models run on it.
      expect(text).not.toMatch(/not using cuda/);
      return;
    }
    // ONNX Runtime's own native log lines look like `[E:onnxruntime:…] … [ONNXRuntimeError]`.
    expect(text).not.toMatch(/\[E:onnxruntime|ONNXRuntimeError|provider_bridge/);
    const explained = logs.filter((line) => line.includes('not using cuda'));
    expect(explained).toHaveLength(1);
    expect(JSON.parse(explained[0]!).reason).toBe(reason);
    expect(explained[0]).toContain('models run on cpu');
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await rm(repository, { recursive: true, force: true });
  }
});

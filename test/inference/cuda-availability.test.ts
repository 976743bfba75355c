import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cudaUnavailableReason } from '../../src/inference/cuda-availability.js';

describe('cudaUnavailableReason looks before ONNX Runtime is asked', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'huber-cuda-'));
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  async function layout(withProvider: boolean, withDriver: boolean) {
    const libraries = path.join(root, `libs-${withProvider}-${withDriver}`);
    await mkdir(libraries, { recursive: true });
    if (withProvider) await writeFile(path.join(libraries, 'libonnxruntime_providers_cuda.so'), '');
    const driver = path.join(root, `driver-${withProvider}-${withDriver}`);
    if (withDriver) await writeFile(driver, 'NVRM version: 550');
    return { runtimeLibraries: libraries, driverFiles: [driver] };
  }

  test('no CUDA provider library: names the missing file and how to install it', async () => {
    const probe = await layout(false, true);
    const reason = cudaUnavailableReason(probe);
    expect(reason).toContain(path.join(probe.runtimeLibraries, 'libonnxruntime_providers_cuda.so'));
    expect(reason).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
  });

  test('the provider library without a driver: says no NVIDIA driver was found', async () => {
    const probe = await layout(true, false);
    expect(cudaUnavailableReason(probe)).toBe(`no NVIDIA driver found (none of ${probe.driverFiles[0]} exists)`);
  });

  test('both present: CUDA may be tried', async () => {
    expect(cudaUnavailableReason(await layout(true, true))).toBeNull();
  });

  test("on this machine the answer matches onnxruntime-node's own install", async () => {
    const reason = cudaUnavailableReason();
    const { createRequire } = await import('node:module');
    const packageDir = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const library = path.join(packageDir, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
    const { existsSync } = await import('node:fs');
    if (!existsSync(library)) expect(reason).toContain(library);
  });
});

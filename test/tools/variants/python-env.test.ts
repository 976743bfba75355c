import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { ensurePythonEnvironment, PythonEnvironmentError, runCommand } from '../../../tools/variants/python-env.js';

describe('ensurePythonEnvironment', () => {
  test('without a Python interpreter it stops with a message naming what to install', async () => {
    const venv = await mkdtemp(path.join(os.tmpdir(), 'huber-venv-'));
    try {
      const attempt = ensurePythonEnvironment({
        venv: path.join(venv, 'env'),
        python: path.join(venv, 'no-such-python3'),
        log: () => undefined,
      });
      await expect(attempt).rejects.toBeInstanceOf(PythonEnvironmentError);
      await expect(attempt).rejects.toThrow(
        /Python is needed to make model variants .* could not be run: .*Install Python 3\.10\+ with its venv module, or set PYTHON/,
      );
    } finally {
      await rm(venv, { recursive: true, force: true });
    }
  });

  test('an interpreter that is not Python 3.10+ is refused by its reported version', async () => {
    const venv = await mkdtemp(path.join(os.tmpdir(), 'huber-venv-'));
    try {
      // `true` exits 0 and prints nothing: a program that is no Python at all.
      const attempt = ensurePythonEnvironment({ venv: path.join(venv, 'env'), python: 'true', log: () => undefined });
      await expect(attempt).rejects.toThrow(/"true" is Python \(unknown\); make_variant\.py needs Python 3\.10 or newer/);
    } finally {
      await rm(venv, { recursive: true, force: true });
    }
  });

  test('the cached environment has the pinned ONNX Runtime, the same release as onnxruntime-node', async () => {
    const python = await ensurePythonEnvironment({ log: () => undefined });
    const result = await runCommand(python, ['-c', 'import onnxruntime; print(onnxruntime.__version__)']);
    const { version } = (await import('onnxruntime-node/package.json', { with: { type: 'json' } })).default as {
      version: string;
    };
    expect(result.stdout.trim()).toBe(version);
  }, 600_000);
});

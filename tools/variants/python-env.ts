import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** What went wrong while preparing Python, phrased for the person who ran the tool. */
export class PythonEnvironmentError extends Error {
  override name = 'PythonEnvironmentError';
}

/**
 * The folder holding this tool's source files. Run from source (tsx, vitest) it is this file's own
 * folder; run from `dist/tools/variants` the Python script and requirements are not copied there,
 * so the source folder three levels up is used.
 */
export function variantToolFolder(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  if (existsSync(path.join(here, 'make_variant.py'))) return here;
  const source = path.resolve(here, '../../../tools/variants');
  if (existsSync(path.join(source, 'make_variant.py'))) return source;
  throw new PythonEnvironmentError(`make_variant.py is neither in ${here} nor in ${source}`);
}

export function repositoryRoot(): string {
  return path.resolve(variantToolFolder(), '../..');
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without a shell; `echo` streams its output through as it comes. */
export function runCommand(
  program: string,
  args: readonly string[],
  options: { echo?: (line: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (options.echo) for (const line of chunk.split('\n')) if (line.trim()) options.echo(line);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (options.echo) for (const line of chunk.split('\n')) if (line.trim()) options.echo(line);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export interface PythonEnvironmentOptions {
  /** Where the virtual environment lives; `.cache/variants-venv` in the repository by default. */
  venv?: string | undefined;
  /** The interpreter that creates it; $PYTHON, else python3. */
  python?: string | undefined;
  log?: (line: string) => void;
}

/**
 * Makes sure a virtual environment with exactly the pinned requirements exists and returns its
 * interpreter. The requirements file's hash is stored in the environment, so a changed pin
 * rebuilds it and an unchanged one costs one file read.
 */
export async function ensurePythonEnvironment(options: PythonEnvironmentOptions = {}): Promise<string> {
  const log = options.log ?? ((line: string) => console.log(line));
  const requirementsPath = path.join(variantToolFolder(), 'requirements.txt');
  const requirements = await readFile(requirementsPath, 'utf8');
  const digest = createHash('sha256').update(requirements).digest('hex');
  const venv = options.venv ?? path.join(repositoryRoot(), '.cache', 'variants-venv');
  const interpreter = path.join(venv, 'bin', 'python');
  const marker = path.join(venv, '.requirements-sha256');
  if (existsSync(interpreter) && (await readFile(marker, 'utf8').catch(() => '')) === digest) return interpreter;

  const python = options.python ?? process.env.PYTHON ?? 'python3';
  const version = await runCommand(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']).catch((error: Error) => {
    throw new PythonEnvironmentError(
      `Python is needed to make model variants (ONNX Runtime's quantizer is a Python package), but "${python}" could not be run: ${error.message}. Install Python 3.10+ with its venv module, or set PYTHON to its path.`,
    );
  });
  const [major, minor] = version.stdout.trim().split('.').map(Number);
  if (version.code !== 0 || major !== 3 || minor === undefined || minor < 10) {
    throw new PythonEnvironmentError(
      `"${python}" is Python ${version.stdout.trim() || '(unknown)'}; make_variant.py needs Python 3.10 or newer`,
    );
  }
  log(`Creating a Python ${major}.${minor} virtual environment in ${venv}`);
  await rm(venv, { recursive: true, force: true });
  await mkdir(path.dirname(venv), { recursive: true });
  const created = await runCommand(python, ['-m', 'venv', venv]);
  if (created.code !== 0) {
    throw new PythonEnvironmentError(
      `"${python} -m venv" failed (on Debian and Ubuntu the venv module is the python3-venv package): ${created.stderr.trim()}`,
    );
  }
  const pins = requirements
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
  log(`Installing ${pins.join(', ')} (from ${path.relative(process.cwd(), requirementsPath) || requirementsPath})`);
  // Binary wheels only: a missing wheel should say so, not start compiling ONNX from source. One
  // retry, so that an unreachable index is reported in seconds and the next configured one tried.
  const installed = await runCommand(
    interpreter,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--only-binary', ':all:', '--retries', '1', '-r', requirementsPath],
    { echo: (line) => log(`  pip: ${line}`) },
  );
  if (installed.code !== 0) {
    const missing = /No matching distribution found for (\S+)/.exec(installed.stderr)?.[1];
    throw new PythonEnvironmentError(
      missing
        ? `pip found no wheel for ${missing} for Python ${major}.${minor} on this platform; make one reachable through pip's configured index, or use a Python that has one`
        : `pip could not install ${requirementsPath}: ${installed.stderr.trim().split('\n').slice(-3).join(' ')}`,
    );
  }
  await writeFile(marker, digest);
  return interpreter;
}

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface CudaProbe {
  /** Folder holding onnxruntime-node's native libraries for this platform. */
  runtimeLibraries: string;
  /** Files whose presence shows an NVIDIA kernel driver. */
  driverFiles: readonly string[];
}

function defaultProbe(): CudaProbe {
  const packageJson = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return {
    runtimeLibraries: join(dirname(packageJson), 'bin', 'napi-v6', process.platform, process.arch),
    driverFiles: ['/proc/driver/nvidia/version', '/dev/nvidiactl'],
  };
}

/**
 * Why CUDA cannot be used here, or null when it can be tried. Asking ONNX Runtime for a provider it
 * cannot load prints a native error on every session and costs a failed load, so the service looks
 * first: the CUDA provider library that `ONNXRUNTIME_NODE_INSTALL=cuda12` installs, and a driver.
 */
export function cudaUnavailableReason(probe: CudaProbe = defaultProbe()): string | null {
  const provider = join(probe.runtimeLibraries, 'libonnxruntime_providers_cuda.so');
  if (!existsSync(provider)) {
    return `onnxruntime-node has no CUDA provider (${provider} is missing; install it with ONNXRUNTIME_NODE_INSTALL=cuda12, see the README's GPU section)`;
  }
  if (!probe.driverFiles.some((file) => existsSync(file))) {
    return `no NVIDIA driver found (none of ${probe.driverFiles.join(', ')} exists)`;
  }
  return null;
}

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/matchers.ts'],
    // Inference tests start ONNX Runtime sessions on a 2-core machine; files run one after another so
    // latency-bound assertions (deadlines, queue bounds) do not fight each other for the cores.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'html'],
      reportsDirectory: 'coverage',
      thresholds: {
        'src/huber/**/*.ts': { lines: 95 },
      },
    },
  },
});

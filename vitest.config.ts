import { defineConfig } from 'vitest/config';

// Pure math runs two files at a time; everything that starts ONNX Runtime sessions, servers or a browser
// runs one file at a time afterwards, so latency-bound assertions (deadlines, queue bounds) do not fight
// each other for the cores of a 2-core machine.
const pureFiles = [
  'test/huber/**/*.test.ts',
  'test/calibration/**/*.test.ts',
  'test/kserve/**/*.test.ts',
  'test/models/whitening.test.ts',
  'test/pipeline/crop-sampler.test.ts',
  'test/inference/cuda-availability.test.ts',
  'test/inference/dynamic-batcher.test.ts',
];

export default defineConfig({
  test: {
    setupFiles: ['test/setup/matchers.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: 'math', include: pureFiles, sequence: { groupOrder: 0 }, maxWorkers: 2 },
      },
      {
        extends: true,
        test: {
          name: 'service',
          include: ['test/**/*.test.ts'],
          exclude: pureFiles,
          sequence: { groupOrder: 1 },
          fileParallelism: false,
        },
      },
    ],
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

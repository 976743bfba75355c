/**
 * Linear cost of the track smoother (docs/spec.md §9, issue 14): one seeded 2-D track of 10 000 frames at 30 fps
 * with Huber noise, 5 % missed frames and 10 % gross outliers, smoothed whole and as its first 1 000
 * frames in the same run. Prints the median time of each, µs per frame, and the ratio (goal ≤ 15×, the
 * length ratio being 10×). The causal filter is timed the same way. Run with `npx tsx bench/smoothing.ts`.
 */
import { filterTrack } from '../src/huber/track-filter.js';
import { smoothTrack } from '../src/huber/track-smoother.js';
import type { TrackEstimate, TrackFrameInput, TrackOptions } from '../src/huber/track.js';
import { RadialSampler } from '../test/helpers/huber-reference.js';
import { createRng } from '../test/helpers/prng.js';
import { simulateTrack } from '../test/helpers/track-reference.js';

const LONG = 10_000;
const SHORT = 1_000;
const Q = 200;
const OPTIONS: TrackOptions = { delta: 1, level: 0.9, accelerationNoise: Q };

const track = simulateTrack(createRng(14), new RadialSampler(2, 1), {
  d: 2,
  frames: LONG,
  q: Q,
  delta: 1,
  dt: 1 / 30,
  jitter: 0.2,
  missRate: 0.05,
  grossRate: 0.1,
  noise: 2,
  grossOffset: 40,
});
const long: TrackFrameInput[] = track.frames;
const short = long.slice(0, SHORT);

function medianMs(run: () => TrackEstimate, repeats: number): { ms: number; iterations: number } {
  const times: number[] = [];
  let iterations = 0;
  for (let i = 0; i < repeats; i++) {
    const start = process.hrtime.bigint();
    iterations = run().iterations;
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)] ?? Number.NaN, iterations };
}

for (const [mode, solve] of [
  ['smoother', smoothTrack],
  ['filter', filterTrack],
] as const) {
  // Warm-up so both lengths run optimized code.
  for (let i = 0; i < 3; i++) solve(long, OPTIONS);
  const small = medianMs(() => solve(short, OPTIONS), 21);
  const large = medianMs(() => solve(long, OPTIONS), 7);
  console.log(
    `${mode.padEnd(8)}  ${SHORT} frames: ${small.ms.toFixed(2)} ms (${((1000 * small.ms) / SHORT).toFixed(2)} µs/frame, ${small.iterations} iterations)` +
      `  ${LONG} frames: ${large.ms.toFixed(2)} ms (${((1000 * large.ms) / LONG).toFixed(2)} µs/frame, ${large.iterations} iterations)` +
      `  ratio ${(large.ms / small.ms).toFixed(2)}× (goal ≤ 15×)`,
  );
}

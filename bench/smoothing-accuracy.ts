/**
 * Accuracy of the track smoother and filter (docs/spec.md §9, issue 14) against the baselines, measured in one run
 * on seeded synthetic tracks: smooth curves (sums of sinusoids) in 2-D and 3-D at 30 fps, per-frame
 * covariances that drift over time, Huber noise (δ = 1) with exactly those covariances, 5 % missed
 * frames, and, in the "outliers" condition, 10 % of observed frames replaced by gross outliers 30 to 120
 * units off. Baselines (test/helpers/track-baselines.ts): a Gaussian RTS smoother and Kalman filter on the
 * same motion model and covariances, and the One Euro filter with MediaPipe's pose parameters.
 *
 * The motion noise q is chosen on separate calibration tracks as the grid value that minimizes the clean
 * RMSE of the Gaussian RTS smoother (for both smoothers) and of the Gaussian Kalman filter (for both
 * filters): the baselines get their best setting and the Huber methods inherit it. Prints a Markdown table (RMSE against the true path, and coverage of the 0.5 / 0.9
 * regions), and writes docs/smoothing-track.svg. Run with `npx tsx bench/smoothing-accuracy.ts`.
 */
import { writeFileSync } from 'node:fs';
import { filterTrack } from '../src/huber/track-filter.js';
import { smoothTrack } from '../src/huber/track-smoother.js';
import type { TrackEstimate } from '../src/huber/track.js';
import { RadialSampler, referenceKappa } from '../test/helpers/huber-reference.js';
import { createRng, type Rng } from '../test/helpers/prng.js';
import { gaussianTrack, MEDIAPIPE_POSE, oneEuro } from '../test/helpers/track-baselines.js';
import {
  denseCholesky,
  denseMultiply,
  denseTranspose,
  insideRegion,
  simulateTrack,
  type ReferenceFrame,
} from '../test/helpers/track-reference.js';

const DELTA = 1;
const FPS = 30;
const FRAMES = 300;
const TRACKS = 40;
/** A person-sized object in a 640×480 frame: the scale MediaPipe divides landmarks by before One Euro. */
const OBJECT_SCALE = 200;
const Q_GRID = [25, 50, 100, 200, 400, 800, 1600];
const CHI_SQUARE: Record<number, Record<string, number>> = {
  2: { '0.5': -2 * Math.log(0.5), '0.9': -2 * Math.log(0.1) },
  3: { '0.5': 2.365974, '0.9': 6.251389 },
};

interface Track {
  readonly d: number;
  readonly truth: number[][];
  readonly frames: ReferenceFrame[];
  readonly gross: boolean[];
}

function drawTrack(rng: Rng, sampler: RadialSampler, d: number, grossRate: number): Track {
  const kappa = referenceKappa(d, DELTA);
  const components = Array.from({ length: d }, () =>
    Array.from({ length: 3 }, () => ({
      amplitude: 10 + 50 * rng.uniform(),
      frequency: 0.1 + 1.2 * rng.uniform(),
      phase: 2 * Math.PI * rng.uniform(),
    })),
  );
  const center = Array.from({ length: d }, () => 200 + 100 * rng.uniform());
  const noise = 1.5 + 2.5 * rng.uniform();
  const truth: number[][] = [];
  const frames: ReferenceFrame[] = [];
  const gross: boolean[] = [];
  for (let k = 0; k < FRAMES; k++) {
    const t = k / FPS;
    const position = center.map(
      (c, i) => c + components[i]!.reduce((acc, w) => acc + w.amplitude * Math.sin(2 * Math.PI * w.frequency * t + w.phase), 0),
    );
    truth.push(position);
    if (k > 1 && rng.uniform() < 0.05) {
      frames.push({ t, mean: null });
      gross.push(false);
      continue;
    }
    // Axes and orientation drift over the track: a detector's confidence changes with pose and blur.
    const raw = new Array<number>(d * d).fill(0);
    for (let i = 0; i < d; i++) {
      raw[i * d + i] = noise * (0.5 + Math.sin(0.4 * t + i * 1.7) ** 2);
      for (let j = 0; j < i; j++) raw[i * d + j] = 0.5 * noise * Math.sin(0.3 * t + i + j);
    }
    const covariance = denseMultiply(raw, denseTranspose(raw, d, d), d, d, d);
    let mean = Array.from(
      sampler.sample(
        rng,
        1,
        position,
        denseCholesky(
          covariance.map((v) => v / kappa),
          d,
        ),
      ),
    );
    const isGross = rng.uniform() < grossRate;
    if (isGross) {
      const direction = Array.from({ length: d }, () => rng.normal());
      const norm = Math.hypot(...direction);
      const offset = 30 + 90 * rng.uniform();
      mean = mean.map((v, i) => v + (offset * direction[i]!) / norm);
    }
    frames.push({ t, mean, covariance });
    gross.push(isGross);
  }
  return { d, truth, frames, gross };
}

/** Squared error summed over frames from the third on (where every method has an answer), and the count. */
function squaredError(track: Track, means: readonly (ArrayLike<number> | null)[]): { sum: number; count: number } {
  let sum = 0;
  let count = 0;
  for (let t = 2; t < FRAMES; t++) {
    const mean = means[t];
    if (mean === null || mean === undefined) throw new Error(`no estimate at frame ${t}`);
    for (let i = 0; i < track.d; i++) sum += (mean[i]! - track.truth[t]![i]!) ** 2;
    count++;
  }
  return { sum, count };
}

function coverage(track: Track, estimate: TrackEstimate, level: '0.5' | '0.9'): { hits: number; count: number } {
  let hits = 0;
  let count = 0;
  estimate.frames.forEach((frame, t) => {
    if (t < 2 || frame.mean === null || frame.covariance === null) return;
    count++;
    if (insideRegion(track.truth[t]!, frame.mean, frame.covariance, Math.sqrt(CHI_SQUARE[track.d]![level]!), track.d)) hits++;
  });
  return { hits, count };
}

function calibrateQ(d: number, smooth: boolean): number {
  const rng = createRng(1000 + d);
  const sampler = new RadialSampler(d, DELTA);
  const tracks = Array.from({ length: 10 }, () => drawTrack(rng, sampler, d, 0));
  let best = { q: Q_GRID[0]!, rmse: Infinity };
  for (const q of Q_GRID) {
    let sum = 0;
    let count = 0;
    for (const track of tracks) {
      const error = squaredError(track, gaussianTrack(track.frames, d, q, smooth).means);
      sum += error.sum;
      count += error.count;
    }
    const rmse = Math.sqrt(sum / count);
    if (rmse < best.rmse) best = { q, rmse };
  }
  return best.q;
}

type Method = 'huber smoother' | 'Gaussian RTS' | 'huber filter' | 'Gaussian Kalman' | 'One Euro';
const METHODS: Method[] = ['huber smoother', 'Gaussian RTS', 'huber filter', 'Gaussian Kalman', 'One Euro'];

const rows: string[] = [];
const coverageRows: string[] = [];
let plotted = false;

for (const d of [2, 3]) {
  const q = calibrateQ(d, true);
  const qFilter = calibrateQ(d, false);
  const sampler = new RadialSampler(d, DELTA);
  for (const [condition, grossRate] of [
    ['clean', 0],
    ['10 % outliers', 0.1],
  ] as const) {
    const rng = createRng(2000 + 10 * d + (grossRate > 0 ? 1 : 0));
    const errors = new Map<Method, { sum: number; count: number }>(METHODS.map((method) => [method, { sum: 0, count: 0 }]));
    const covered: Record<string, { hits: number; count: number }> = {};
    const add = (key: string, value: { hits: number; count: number }) => {
      const entry = (covered[key] ??= { hits: 0, count: 0 });
      entry.hits += value.hits;
      entry.count += value.count;
    };
    for (let i = 0; i < TRACKS; i++) {
      const track = drawTrack(rng, sampler, d, grossRate);
      const smoothed = smoothTrack(track.frames, { delta: DELTA, level: 0.9, accelerationNoise: q });
      const filtered = filterTrack(track.frames, { delta: DELTA, level: 0.9, accelerationNoise: qFilter });
      const estimates: Record<Method, readonly (ArrayLike<number> | null)[]> = {
        'huber smoother': smoothed.frames.map((frame) => frame.mean),
        'Gaussian RTS': gaussianTrack(track.frames, d, q, true).means,
        'huber filter': filtered.frames.map((frame) => frame.mean),
        'Gaussian Kalman': gaussianTrack(track.frames, d, qFilter, false).means,
        'One Euro': oneEuro(track.frames, d, { ...MEDIAPIPE_POSE, objectScale: OBJECT_SCALE }),
      };
      for (const method of METHODS) {
        const error = squaredError(track, estimates[method]);
        const total = errors.get(method)!;
        total.sum += error.sum;
        total.count += error.count;
      }
      for (const level of ['0.5', '0.9'] as const) {
        add(`smoother ${level}`, coverage(track, smoothed, level));
        add(`filter ${level}`, coverage(track, filtered, level));
      }
      if (!plotted && d === 2 && grossRate > 0) {
        writeFileSync(
          new URL('../docs/smoothing-track.svg', import.meta.url),
          plot(track, smoothed, estimates['Gaussian RTS'], q),
        );
        plotted = true;
      }
    }
    const rmse = (method: Method) => Math.sqrt(errors.get(method)!.sum / errors.get(method)!.count);
    const cells = METHODS.map((method) => rmse(method).toFixed(3));
    const smootherVs = Math.min(rmse('Gaussian RTS'), rmse('One Euro'));
    const filterVs = Math.min(rmse('Gaussian Kalman'), rmse('One Euro'));
    rows.push(
      `| ${d}-D | ${condition} | ${q} / ${qFilter} | ${cells.join(' | ')} | ${(rmse('huber smoother') / rmse('Gaussian RTS')).toFixed(3)} / ${(rmse('huber smoother') / rmse('One Euro')).toFixed(3)} / ${(rmse('huber smoother') / smootherVs).toFixed(3)} | ${(rmse('huber filter') / rmse('Gaussian Kalman')).toFixed(3)} / ${(rmse('huber filter') / rmse('One Euro')).toFixed(3)} / ${(rmse('huber filter') / filterVs).toFixed(3)} |`,
    );
    const share = (key: string) => (covered[key]!.hits / covered[key]!.count).toFixed(3);
    coverageRows.push(
      `| ${d}-D | ${condition} | ${share('smoother 0.5')} / ${share('smoother 0.9')} | ${share('filter 0.5')} / ${share('filter 0.9')} | ${covered['smoother 0.5']!.count} |`,
    );
  }
}

console.log(`RMSE against the true path (units; ${TRACKS} tracks × ${FRAMES} frames per row, frames 3 on)\n`);
console.log(
  '| d | condition | q smoother / filter | huber smoother | Gaussian RTS | huber filter | Gaussian Kalman | One Euro | smoother ÷ RTS / ÷ One Euro / ÷ better | filter ÷ Kalman / ÷ One Euro / ÷ better |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
console.log('\nCoverage of the returned regions (share of frames whose true position lies inside), level 0.5 / 0.9\n');
console.log('| d | condition | smoother | filter | frames |');
console.log('|---|---|---|---|---|');
for (const row of coverageRows) console.log(row);

/**
 * With `--regimes`: coverage on tracks drawn from the motion prior itself (the model's own world), across
 * noise-to-motion ratios, 300 tracks × 40 frames each, frames 6 on.
 */
if (process.argv.includes('--regimes')) {
  console.log('\nCoverage on constant-velocity tracks drawn from the prior (30 fps, noise about 2 units), level 0.5 / 0.9\n');
  console.log('| q | d | smoother | filter |');
  console.log('|---|---|---|---|');
  for (const q of [50, 200, 800]) {
    for (const d of [2, 3]) {
      const rng = createRng(3000 + q + d);
      const sampler = new RadialSampler(d, DELTA);
      const hits: Record<string, number> = {};
      let count = 0;
      for (let i = 0; i < 300; i++) {
        const track = simulateTrack(rng, sampler, {
          d,
          frames: 40,
          q,
          delta: DELTA,
          dt: 1 / FPS,
          jitter: 0.3,
          missRate: 0.05,
          grossRate: 0,
          noise: 2,
          grossOffset: 0,
        });
        const results = {
          smoother: smoothTrack(track.frames, { delta: DELTA, level: 0.9, accelerationNoise: q }),
          filter: filterTrack(track.frames, { delta: DELTA, level: 0.9, accelerationNoise: q }),
        };
        for (let t = 5; t < 40; t++) {
          if (track.frames[t]!.mean === null) continue;
          count++;
          for (const [mode, result] of Object.entries(results)) {
            const frame = result.frames[t]!;
            for (const level of ['0.5', '0.9']) {
              if (insideRegion(track.truth[t]!, frame.mean!, frame.covariance!, Math.sqrt(CHI_SQUARE[d]![level]!), d))
                hits[`${mode} ${level}`] = (hits[`${mode} ${level}`] ?? 0) + 1;
            }
          }
        }
      }
      const share = (key: string) => ((hits[key] ?? 0) / count).toFixed(3);
      console.log(
        `| ${q} | ${d}-D | ${share('smoother 0.5')} / ${share('smoother 0.9')} | ${share('filter 0.5')} / ${share('filter 0.9')} |`,
      );
    }
  }
}

/** x(t) of one track: truth, observations (gross ones marked), the smoothed mean with its 0.9 band, and RTS. */
function plot(track: Track, smoothed: TrackEstimate, rts: readonly (ArrayLike<number> | null)[], q: number): string {
  const width = 960;
  const height = 420;
  const margin = { left: 24, right: 16, top: 44, bottom: 40 };
  const shown = 150;
  const xs = track.frames.slice(0, shown).map((frame) => frame.t);
  const values = track.truth.slice(0, shown).map((p) => p[0]!);
  const lo = Math.min(...values) - 25;
  const hi = Math.max(...values) + 25;
  const sx = (t: number) => margin.left + ((t - xs[0]!) / (xs[shown - 1]! - xs[0]!)) * (width - margin.left - margin.right);
  const sy = (v: number) =>
    margin.top + ((hi - Math.min(hi, Math.max(lo, v))) / (hi - lo)) * (height - margin.top - margin.bottom);
  const line = (points: [number, number][]) =>
    points.map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${sx(t).toFixed(1)},${sy(v).toFixed(1)}`).join(' ');
  const radius = Math.sqrt(CHI_SQUARE[2]!['0.9']!);
  const frames = smoothed.frames.slice(0, shown);
  const upper = frames.map((f): [number, number] => [f.t, f.mean![0]! + radius * Math.sqrt(f.covariance![0]!)]);
  const lower = frames.map((f): [number, number] => [f.t, f.mean![0]! - radius * Math.sqrt(f.covariance![0]!)]).reverse();
  const band = `${line(upper)} ${line(lower).replace(/^M/, 'L')} Z`;
  const dots = track.frames
    .slice(0, shown)
    .map((frame, i) => {
      if (frame.mean === null) return '';
      const outOfRange = frame.mean[0]! < lo || frame.mean[0]! > hi;
      const color = track.gross[i] ? '#d62728' : '#7f7f7f';
      return `<circle cx="${sx(frame.t).toFixed(1)}" cy="${sy(frame.mean[0]!).toFixed(1)}" r="${outOfRange ? 4 : 2.5}" fill="${outOfRange ? 'none' : color}" stroke="${color}"/>`;
    })
    .join('');
  const flagged = frames
    .map((f) =>
      f.outlier
        ? `<circle cx="${sx(f.t).toFixed(1)}" cy="${(height - margin.bottom + 12).toFixed(1)}" r="2.5" fill="#d62728"/>`
        : '',
    )
    .join('');
  const ticks = [0, 1, 2, 3, 4, 5]
    .map((s) => `<text x="${sx(s).toFixed(1)}" y="${height - 6}" font-size="11" text-anchor="middle">${s} s</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<rect width="${width}" height="${height}" fill="white"/>
<text x="${margin.left}" y="16" font-size="12">x(t) of one 2-D track, δ = 1, q = ${q}, 10 % gross outliers. Black: truth; grey: observations; red: gross (hollow: off the chart);</text>
<text x="${margin.left}" y="32" font-size="12">blue: Huber smoother with its 0.9 band; dashed orange: Gaussian RTS on the same covariances; red dots along the bottom: frames flagged outlier.</text>
<path d="${band}" fill="#1f77b4" fill-opacity="0.18" stroke="none"/>
<path d="${line(track.truth.slice(0, shown).map((p, i) => [xs[i]!, p[0]!]))}" fill="none" stroke="black" stroke-width="1.5"/>
<path d="${line(rts.slice(0, shown).map((p, i) => [xs[i]!, p![0]!]))}" fill="none" stroke="#ff7f0e" stroke-width="1.2" stroke-dasharray="4 3"/>
<path d="${line(frames.map((f) => [f.t, f.mean![0]!]))}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>
${dots}${flagged}${ticks}
</svg>
`;
}

/**
 * Hot-path benchmark for the Huber core: 98 keypoints (WFLW) × 2 views (crop + mirror), ML fusion.
 * Prints µs per request for fuseKeypointViews and for a plain decode-only loop over the same outputs,
 * measured in the same run, and their ratio. Run with `npm run bench:huber`.
 */

import {
  decodePlanarInto,
  PLANAR_DECODED_STRIDE,
  type DistributionParams,
  huberConstants,
  type KeypointNormalization,
  fuseKeypointViews,
  type ViewFusionOptions,
  type PlanarView,
} from '../src/huber/index.js';
import { SeededRandom } from '../tools/seeded-random.js';
import { WFLW_FLIP_PAIRS } from '../tools/model-builder/wflw.js';

const K = 98;
const SIZE = 224;
const PARAMS: DistributionParams = { delta: 1, theta: 1, eigenvalueOffset: 25.5, parameterization: 'nu' };

function build(): { views: PlanarView[]; normalization: KeypointNormalization[] } {
  const random = new SeededRandom(7);
  const normal = (): number => random.nextNormal();
  const flip = Array.from({ length: K }, (_, i) => i);
  for (const [a, b] of WFLW_FLIP_PAIRS) {
    flip[a] = b;
    flip[b] = a;
  }
  const normalization: KeypointNormalization[] = Array.from({ length: K }, () => ({
    mean: [SIZE / 2 + 30 * normal(), SIZE / 2 + 30 * normal()] as const,
    whitening: [
      [1 / 20, 0],
      [0, 1 / 20],
    ] as const,
  }));
  const truth = Array.from({ length: K }, (): [number, number] => [SIZE / 2 + 40 * normal(), SIZE / 2 + 40 * normal()]);
  const raw = new Float32Array(2 * 5 * K);
  // View 0 slot k predicts keypoint k; view 1 (mirrored crop) slot k predicts keypoint flip[k], mirrored.
  for (let v = 0; v < 2; v++) {
    for (let k = 0; k < K; k++) {
      const [tx, ty] = truth[v === 0 ? k : flip[k]!]!;
      const qx = v === 0 ? tx : SIZE - tx;
      const qy = ty;
      const { mean, whitening } = normalization[k]!;
      const g = 25.5 + normal();
      const yx = whitening[0][0] * (qx - mean[0]) + 0.05 * normal();
      const yy = whitening[1][1] * (qy - mean[1]) + 0.05 * normal();
      raw.set([g * yx, g * yy, g - 25.5, 0.5 * normal(), g - 25.5 + 0.5 * normal()], v * 5 * K + 5 * k);
    }
  }
  const scale = 1.8;
  const views: PlanarView[] = [
    { raw, offset: 0, inputToImage: { m: [scale, 0, 0, scale], t: [400, 300] }, slotToKeypoint: null },
    { raw, offset: 5 * K, inputToImage: { m: [-scale, 0, 0, scale], t: [400 + scale * SIZE, 300] }, slotToKeypoint: flip },
  ];
  return { views, normalization };
}

function timePerCall(fn: () => void, minMs = 1500): number {
  for (let i = 0; i < 2000; i++) fn();
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minMs * 1e6) {
    for (let i = 0; i < 200; i++) fn();
    calls += 200;
    elapsed = Number(process.hrtime.bigint() - start);
  }
  return elapsed / calls / 1000;
}

const { views, normalization } = build();
const options: ViewFusionOptions = { fusion: 'ml', level: 0.95, includeViews: false };
const { kappa } = huberConstants(2, PARAMS.delta);
const scratch = new Float64Array(2 * K * PLANAR_DECODED_STRIDE);
let sink = 0;

const decodeOnly = timePerCall(() => {
  for (let v = 0; v < 2; v++) {
    for (let k = 0; k < K; k++)
      decodePlanarInto(views[v]!.raw, views[v]!.offset + 5 * k, PARAMS, kappa, scratch, (v * K + k) * PLANAR_DECODED_STRIDE);
  }
  sink += scratch[0]!;
});
const full = timePerCall(() => {
  sink += fuseKeypointViews(views, normalization, PARAMS, options).keypoints[0]!.x;
});
const withViews = timePerCall(() => {
  sink += fuseKeypointViews(views, normalization, PARAMS, { ...options, includeViews: true }).keypoints[0]!.x;
});

const sample = fuseKeypointViews(views, normalization, PARAMS, options).keypoints;
const iterations = sample.reduce((s, kp) => s + kp.iterations, 0) / K;
console.log(`huber hot path: ${K} keypoints x 2 views, fusion ml (node ${process.version})`);
console.log(`  decode-only loop         ${decodeOnly.toFixed(2)} us/request`);
console.log(`  fuseKeypointViews        ${full.toFixed(2)} us/request  (${(full / decodeOnly).toFixed(2)}x decode-only)`);
console.log(
  `  ... with includeViews    ${withViews.toFixed(2)} us/request  (${(withViews / decodeOnly).toFixed(2)}x decode-only)`,
);
console.log(`  mean ML iterations ${iterations.toFixed(2)}, all converged: ${sample.every((kp) => kp.converged)}`);
if (!Number.isFinite(sink)) console.log('unreachable');

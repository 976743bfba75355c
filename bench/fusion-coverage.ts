/**
 * The coverage table of docs/fusion-math.md: on one seeded Monte Carlo (truth, then each observation
 * drawn from its Huber distribution about it), how often each candidate region holds the truth.
 * Candidates: the posterior (mean, covariance Σ*, posterior-mass radius) that fusePoint reports; Σ* with
 * a Gaussian χ² radius; the Laplace inverse Hessian at the mode; κ(Σ wᵢΛᵢ)⁻¹ at the mode (both χ²).
 * Run: npx tsx bench/fusion-coverage.ts [trials]
 */
import { hessianBlocks, fusePoint } from '../src/huber/point-fusion.js';
import { invertSpd } from '../src/huber/linalg.js';
import { kappa } from '../src/huber/radial.js';
import { RadialSampler } from '../test/helpers/huber-reference.js';
import { lowerFactor, randomCovariance } from '../test/helpers/posterior-reference.js';
import { createRng } from '../test/helpers/prng.js';

const trials = Number(process.argv[2] ?? 2000);
const LEVELS = [0.5, 0.9];
/** χ²_d quantiles of 0.5 and 0.9. */
const CHI2: Record<number, number[]> = { 2: [-2 * Math.log(0.5), -2 * Math.log(0.1)], 3: [2.365973884375338, 6.251388631170325] };

function quadratic(x: ArrayLike<number>, center: ArrayLike<number>, covariance: ArrayLike<number>, d: number): number {
  const precision = invertSpd(covariance, d);
  let q = 0;
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) q += (x[i]! - center[i]!) * precision[i * d + j]! * (x[j]! - center[j]!);
  return q;
}

for (const d of [2, 3]) {
  const rng = createRng(900 + d);
  const samplers = new Map<number, RadialSampler>();
  const names = ['posterior (reported)', 'posterior Σ*, χ² radius', 'Laplace H⁻¹ at the mode, χ²', 'κ(Σ wᵢΛᵢ)⁻¹ at the mode, χ²'];
  const hits = names.map(() => [0, 0]);
  let nullModes = 0;
  for (let trial = 0; trial < trials; trial++) {
    const n = 2 + (trial % 5);
    const delta = [0.5, 1, 2][trial % 3]!;
    const sampler = samplers.get(delta) ?? new RadialSampler(d, delta);
    samplers.set(delta, sampler);
    const k = kappa(d, delta);
    const truth = Array.from({ length: d }, () => 50 * rng.normal());
    const observations = Array.from({ length: n }, () => {
      const covariance = randomCovariance(rng, d, 0.5 + 3 * rng.uniform());
      const inverseRoot = lowerFactor(covariance, d).map((v) => v / Math.sqrt(k));
      return { mean: Array.from(sampler.sample(rng, 1, truth, inverseRoot)), covariance };
    });
    const fused = fusePoint(observations, { delta, level: 0.5, levels: [0.9] });
    const radii = [fused.region.radius, fused.regions[0]!.radius];
    const posteriorQ = quadratic(truth, fused.mean, fused.covariance, d);
    LEVELS.forEach((_, l) => {
      if (posteriorQ <= radii[l]! ** 2) hits[0]![l]!++;
      if (posteriorQ <= CHI2[d]![l]!) hits[1]![l]!++;
    });
    const precisions = observations.map((o) => Float64Array.from(invertSpd(o.covariance, d), (v) => v * k));
    const at = fused.mode ?? fused.mean;
    if (fused.mode === null) nullModes++;
    else {
      const hessian = new Float64Array(d * d);
      for (const block of hessianBlocks(
        observations.map((o, i) => ({ mean: o.mean, precision: precisions[i]! })),
        at,
        delta,
      )) {
        for (let i = 0; i < d * d; i++) hessian[i]! += block[i]!;
      }
      const q = quadratic(truth, at, invertSpd(hessian, d), d);
      LEVELS.forEach((_, l) => {
        if (q <= CHI2[d]![l]!) hits[2]![l]!++;
      });
    }
    const weighted = new Float64Array(d * d);
    observations.forEach((o, i) => {
      const r = Math.sqrt(quadratic(at, o.mean, invertSpd(precisions[i]!, d), d));
      const w = r <= delta ? 1 : delta / r;
      for (let j = 0; j < d * d; j++) weighted[j]! += w * precisions[i]![j]!;
    });
    const q = quadratic(
      truth,
      at,
      Float64Array.from(invertSpd(weighted, d), (v) => v * k),
      d,
    );
    LEVELS.forEach((_, l) => {
      if (q <= CHI2[d]![l]!) hits[3]![l]!++;
    });
  }
  console.log(
    `d = ${d}, ${trials} trials (2–6 observations, δ ∈ {0.5, 1, 2}); ${nullModes} without a unique mode (Laplace counted as a miss there)`,
  );
  names.forEach((name, i) =>
    console.log(`  ${name}: ${LEVELS.map((level, l) => `${level} → ${(hits[i]![l]! / trials).toFixed(3)}`).join(', ')}`),
  );
}

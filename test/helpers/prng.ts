import { SeededRandom } from '../../tools/seeded-random.js';

/** The tests' view of the project's one seeded generator, so every random test is reproducible. */
export interface Rng {
  /** Uniform on the open interval (0, 1). */
  uniform(): number;
  /** Uniform on [lo, hi). */
  range(lo: number, hi: number): number;
  /** Standard normal. */
  normal(): number;
}

export function createRng(seed: number): Rng {
  const random = new SeededRandom(seed);
  // Half a step off the grid keeps 0 and 1 out, so log(uniform()) and inverse CDFs stay finite.
  const uniform = (): number => (random.nextUint32() + 0.5) / 4294967296;
  return {
    uniform,
    range: (lo, hi) => lo + (hi - lo) * uniform(),
    normal: () => random.nextNormal(),
  };
}

/** A small seeded generator (sfc32) so that every random test is reproducible. */
export interface Rng {
  /** Uniform on the open interval (0, 1), 53 random bits. */
  uniform(): number;
  /** Uniform on [lo, hi). */
  range(lo: number, hi: number): number;
  /** Standard normal, Box–Muller. */
  normal(): number;
}

export function createRng(seed: number): Rng {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88 ^ Math.imul(seed, 0x85ebca6b);
  let c = 0xb7e15162;
  let d = 1;
  const next32 = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (a + b + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t >>> 0;
  };
  for (let i = 0; i < 20; i++) next32();
  let spare: number | null = null;
  const uniform = (): number => {
    const hi = next32() >>> 5;
    const lo = next32() >>> 6;
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  };
  return {
    uniform,
    range: (lo, hi) => lo + (hi - lo) * uniform(),
    normal: () => {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      const r = Math.sqrt(-2 * Math.log(uniform()));
      const phi = 2 * Math.PI * uniform();
      spare = r * Math.sin(phi);
      return r * Math.cos(phi);
    },
  };
}

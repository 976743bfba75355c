// Deterministic random numbers for seeded model weights. The default model is
// regenerated on every machine instead of being downloaded, so the stream must
// be identical everywhere: only 32-bit integer arithmetic, IEEE-exact sqrt and
// V8's fdlibm-derived Math.log (the same code on every platform) are used.

/** splitmix32-style integer hash, used to derive independent stream seeds. */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Hash of a string (FNV-1a), so each named tensor gets its own stream. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** xoshiro128** generator. */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare = 0;
  private hasSpare = false;

  constructor(seed: number, stream = 0) {
    const s = mix32(seed >>> 0) ^ mix32((stream >>> 0) + 0x632be5ab);
    this.a = mix32(s);
    this.b = mix32(this.a);
    this.c = mix32(this.b);
    this.d = mix32(this.c) | 1; // never the all-zero state
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9);
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result >>> 0;
  }

  /** Uniform in [0, 1), 32 random bits. */
  nextUniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in (−1, 1), never exactly 0 on both draws of a polar pair. */
  private nextSigned(): number {
    return ((this.nextUint32() >>> 8) + 0.5) / 8388608 - 1;
  }

  /** Standard normal, Marsaglia's polar method. */
  nextNormal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    for (;;) {
      const u = this.nextSigned();
      const v = this.nextSigned();
      const s = u * u + v * v;
      if (s >= 1 || s === 0) continue;
      const f = Math.sqrt((-2 * Math.log(s)) / s);
      this.spare = v * f;
      this.hasSpare = true;
      return u * f;
    }
  }

  /** Fills `out` with N(0, std²) values in place. */
  fillNormal(out: Float32Array, std: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.nextNormal() * std;
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

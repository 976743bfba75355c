/**
 * The constant-velocity motion prior of docs/spec.md §9 (Smoothing): a state s = (x, v) ∈ R^{2d}, positions
 * first, driven by white-noise acceleration of power spectral density q² (q = `accelerationNoise`, in
 * units/s^{3/2}). Every matrix is row-major 2d×2d; each is a 2×2 pattern times I_d.
 */

export function stateSize(d: number): number {
  return 2 * d;
}

function kronecker(d: number, a: number, b: number, c: number, e: number): Float64Array {
  const m = 2 * d;
  const out = new Float64Array(m * m);
  for (let i = 0; i < d; i++) {
    out[i * m + i] = a;
    out[i * m + d + i] = b;
    out[(d + i) * m + i] = c;
    out[(d + i) * m + d + i] = e;
  }
  return out;
}

/** F(Δ) = [[I, Δ·I], [0, I]]: x' = x + Δ·v, v' = v. */
export function transition(dt: number, d: number): Float64Array {
  return kronecker(d, 1, dt, 0, 1);
}

/** Q(Δ) = q²·[[Δ³/3·I, Δ²/2·I], [Δ²/2·I, Δ·I]]. */
export function processNoise(dt: number, q: number, d: number): Float64Array {
  const q2 = q * q;
  return kronecker(d, (q2 * dt * dt * dt) / 3, (q2 * dt * dt) / 2, (q2 * dt * dt) / 2, q2 * dt);
}

/**
 * Q(Δ)⁻¹ = q⁻²·[[12/Δ³·I, −6/Δ²·I], [−6/Δ²·I, 4/Δ·I]], in closed form: inverting Q numerically loses
 * digits because its entries span Δ³ to Δ.
 */
export function processPrecision(dt: number, q: number, d: number): Float64Array {
  const s = 1 / (q * q);
  return kronecker(d, (12 * s) / (dt * dt * dt), (-6 * s) / (dt * dt), (-6 * s) / (dt * dt), (4 * s) / dt);
}

/**
 * Whether a step Δ with noise q gives a finite, positive Q and Q⁻¹: a step so short (or q so small)
 * that 12/(q²Δ³) overflows cannot be represented, and callers refuse it rather than smooth with ∞.
 */
export function isRepresentableStep(dt: number, q: number): boolean {
  const q2 = q * q;
  const values = [(q2 * dt * dt * dt) / 3, q2 * dt, 12 / (q2 * dt * dt * dt), 4 / (q2 * dt)];
  return values.every((value) => Number.isFinite(value) && value > 0);
}

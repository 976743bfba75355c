/** Gauss–Legendre rules on [−1, 1], the building block of the posterior quadrature. */

export interface GaussLegendreRule {
  readonly nodes: Float64Array;
  readonly weights: Float64Array;
}

const cache = new Map<number, GaussLegendreRule>();

/**
 * The n-point rule, nodes ascending. Newton on Pₙ from Tricomi's initial guesses converges in a few
 * steps to full precision for the small n used here; rules are cached because every ray reuses them.
 */
export function gaussLegendre(n: number): GaussLegendreRule {
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new RangeError(`rule size must be an integer from 1 to 256, got ${n}`);
  const cached = cache.get(n);
  if (cached !== undefined) return cached;
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    for (let iteration = 0; iteration < 100; iteration++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) {
        const p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      const derivative = (n * (x * p1 - p0)) / (x * x - 1);
      const step = p1 / derivative;
      x -= step;
      if (Math.abs(step) < 1e-16) break;
    }
    // One more evaluation at the converged node keeps the weight consistent with it.
    let p0 = 1;
    let p1 = x;
    for (let k = 2; k <= n; k++) {
      const p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
      p0 = p1;
      p1 = p2;
    }
    const derivative = (n * (x * p1 - p0)) / (x * x - 1);
    const weight = 2 / ((1 - x * x) * derivative * derivative);
    nodes[n - 1 - i] = x;
    nodes[i] = -x;
    weights[i] = weight;
    weights[n - 1 - i] = weight;
  }
  const rule = { nodes, weights };
  cache.set(n, rule);
  return rule;
}

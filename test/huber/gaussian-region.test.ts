import { describe, expect, test } from 'vitest';
import { gaussianRadialCdf, gaussianRegionRadius } from '../../src/huber/gaussian-region.js';
import { integrate } from '../helpers/integrate.js';

describe('Gaussian region radius', () => {
  test('d = 2: the closed form √(−2 log(1 − p))', () => {
    for (const p of [0.1, 0.5, 0.9, 0.99, 0.999])
      expect(gaussianRegionRadius(2, p)).toBeCloseToNested(Math.sqrt(-2 * Math.log1p(-p)), { rel: 1e-12 });
  });

  test('d = 1, 3 and 4: published χ² quantiles', () => {
    // χ²_d quantiles (Abramowitz & Stegun table 26.8), radius = √quantile.
    const table: [number, number, number][] = [
      [1, 0.5, 0.454936],
      [1, 0.9, 2.705543],
      [3, 0.5, 2.365974],
      [3, 0.9, 6.251389],
      [3, 0.99, 11.344867],
      [4, 0.5, 3.356694],
      [4, 0.9, 7.77944],
    ];
    for (const [d, p, quantile] of table) expect(gaussianRegionRadius(d, p) ** 2).toBeCloseToNested(quantile, { rel: 2e-6 });
  });

  test('the CDF is the normalized radial integral of r^{d−1} e^{−r²/2}', () => {
    for (const d of [1, 2, 3, 4]) {
      const f = (r: number) => Math.pow(r, d - 1) * Math.exp(-0.5 * r * r);
      const total = integrate(f, 0, 40, 1e-13);
      for (const r of [0.3, 1, 2.5])
        expect(gaussianRadialCdf(d, r)).toBeCloseToNested(integrate(f, 0, r, 1e-13) / total, { rel: 1e-10 });
    }
  });
});

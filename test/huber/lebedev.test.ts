/**
 * The Lebedev rules against closed forms: ∫_{S²} x^a y^b z^c dΩ = 4π·(a−1)!!(b−1)!!(c−1)!!/(a+b+c+1)!! for
 * even a, b, c and 0 otherwise. A rule of degree n must integrate every monomial of degree ≤ n exactly and,
 * since its tables are finite, miss some monomial of degree n + 1 (n + 1 is even for these rules; odd
 * degrees vanish by the nodes' central symmetry).
 */
import assert from 'node:assert/strict';
import { describe, expect, test } from 'vitest';

import { LEBEDEV_POINTS, lebedevRule } from '../../src/huber/lebedev.js';

function doubleFactorial(n: number): number {
  let product = 1;
  for (let k = n; k > 1; k -= 2) product *= k;
  return product;
}

function sphereMoment(a: number, b: number, c: number): number {
  if (a % 2 !== 0 || b % 2 !== 0 || c % 2 !== 0) return 0;
  return (
    (4 * Math.PI * doubleFactorial(a - 1) * doubleFactorial(b - 1) * doubleFactorial(c - 1)) / doubleFactorial(a + b + c + 1)
  );
}

/** The largest error over every monomial x^a y^b z^c of total degree exactly n. */
function worstMonomialError(points: number, n: number): number {
  const rule = lebedevRule(points);
  let worst = 0;
  for (let a = 0; a <= n; a++) {
    for (let b = 0; a + b <= n; b++) {
      const c = n - a - b;
      let sum = 0;
      for (let k = 0; k < rule.count; k++) {
        sum += rule.weights[k]! * rule.nodes[3 * k]! ** a * rule.nodes[3 * k + 1]! ** b * rule.nodes[3 * k + 2]! ** c;
      }
      worst = Math.max(worst, Math.abs(sum - sphereMoment(a, b, c)));
    }
  }
  return worst;
}

const DEGREES: Record<number, number> = { 26: 7, 38: 9, 50: 11, 86: 15, 110: 17 };

describe('Lebedev rules on the unit sphere', () => {
  test('the published sizes are available, with the published degrees', () => {
    expect([...LEBEDEV_POINTS]).toEqual([26, 38, 50, 86, 110]);
    for (const points of LEBEDEV_POINTS) expect(lebedevRule(points).degree).toBe(DEGREES[points]);
  });

  for (const points of [26, 38, 50, 86, 110]) {
    test(`${points} points: distinct unit nodes, positive weights summing to 4π`, () => {
      const rule = lebedevRule(points);
      expect(rule.count).toBe(points);
      expect(rule.nodes.length).toBe(3 * points);
      for (let k = 0; k < points; k++) {
        const [x, y, z] = [rule.nodes[3 * k]!, rule.nodes[3 * k + 1]!, rule.nodes[3 * k + 2]!];
        expect(Math.hypot(x, y, z)).toBeCloseToNested(1, { abs: 1e-15 });
        assert.ok(rule.weights[k]! > 0, `weight ${k} is ${rule.weights[k]}`);
        for (let m = 0; m < k; m++) {
          const gap = Math.hypot(x - rule.nodes[3 * m]!, y - rule.nodes[3 * m + 1]!, z - rule.nodes[3 * m + 2]!);
          assert.ok(gap > 0.1, `nodes ${m} and ${k} coincide`);
        }
      }
      expect(rule.weights.reduce((s, w) => s + w, 0)).toBeCloseToNested(4 * Math.PI, { rel: 1e-14 });
    });

    test(`${points} points: every monomial up to degree ${DEGREES[points]} exactly, not degree ${DEGREES[points]! + 1}`, () => {
      const degree = DEGREES[points]!;
      for (let n = 0; n <= degree; n++) {
        const error = worstMonomialError(points, n);
        assert.ok(error < 1e-13, `degree ${n}: error ${error}`);
      }
      assert.ok(worstMonomialError(points, degree + 1) > 1e-7, `degree ${degree + 1} should not be exact`);
    });
  }

  test('an unknown size is refused, naming the sizes there are', () => {
    expect(() => lebedevRule(27)).toThrow(/26, 38, 50, 86, 110/);
  });
});

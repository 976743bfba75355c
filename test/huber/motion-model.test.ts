import { describe, expect, test } from 'vitest';
import { isRepresentableStep, processNoise, processPrecision, stateSize, transition } from '../../src/huber/motion-model.js';
import { denseInverse, denseMultiply, denseTranspose, referenceProcessNoise } from '../helpers/track-reference.js';

describe('constant-velocity motion model', () => {
  for (const d of [2, 3]) {
    test(`Q(Δ) is the integral of the white-noise acceleration's spread (d = ${d})`, () => {
      for (const [dt, q] of [
        [1 / 30, 200],
        [0.5, 3],
        [2.7, 0.01],
      ] as const) {
        expect(Array.from(processNoise(dt, q, d))).toBeCloseToNested(referenceProcessNoise(dt, q, d), {
          rel: 1e-12,
          abs: 1e-300,
        });
      }
    });

    test(`Q(Δ)⁻¹ in closed form inverts Q(Δ) (d = ${d})`, () => {
      const m = stateSize(d);
      for (const [dt, q] of [
        [1 / 30, 200],
        [0.5, 3],
        [1e-3, 1e-2],
      ] as const) {
        expect(Array.from(processPrecision(dt, q, d))).toBeCloseToNested(denseInverse(referenceProcessNoise(dt, q, d), m), {
          rel: 1e-9,
        });
      }
    });

    test(`two steps compose into one: F(a)Q(b)F(a)ᵀ + Q(a) = Q(a + b), F(a)F(b) = F(a + b) (d = ${d})`, () => {
      const m = stateSize(d);
      const [a, b, q] = [0.3, 0.45, 7];
      const f = Array.from(transition(a, d));
      const moved = denseMultiply(denseMultiply(f, Array.from(processNoise(b, q, d)), m, m, m), denseTranspose(f, m, m), m, m, m);
      const composed = moved.map((v, i) => v + processNoise(a, q, d)[i]!);
      expect(composed).toBeCloseToNested(Array.from(processNoise(a + b, q, d)), { rel: 1e-12, abs: 1e-12 });
      expect(denseMultiply(f, Array.from(transition(b, d)), m, m, m)).toBeCloseToNested(Array.from(transition(a + b, d)), {
        abs: 1e-15,
      });
    });
  }

  test('a step too short for the noise to represent is refused, an ordinary one is not', () => {
    expect(isRepresentableStep(1 / 30, 200)).toBe(true);
    expect(isRepresentableStep(1e-120, 1)).toBe(false);
    expect(isRepresentableStep(1e-3, 1e-160)).toBe(false);
  });
});

import { describe, expect, test } from 'vitest';
import {
  hexColour,
  relativeRmse,
  scalePosition,
  uncertaintyColour,
  uncertaintyRgb,
  UNCERTAINTY_STOPS,
} from '../../src/render/uncertainty-colour.js';

describe('uncertainty colour scale', () => {
  test('each stop gets exactly its own colour; the ends clamp', () => {
    for (const stop of UNCERTAINTY_STOPS) expect(uncertaintyRgb(stop.relativeRmse)).toEqual([...stop.rgb]);
    const first = UNCERTAINTY_STOPS[0];
    const last = UNCERTAINTY_STOPS[UNCERTAINTY_STOPS.length - 1]!;
    for (const below of [0, first.relativeRmse / 3, Number.NaN]) expect(uncertaintyRgb(below)).toEqual([...first.rgb]);
    for (const above of [last.relativeRmse * 1.0001, 10, Number.POSITIVE_INFINITY])
      expect(uncertaintyRgb(above)).toEqual([...last.rgb]);
  });

  test('between two stops the colour moves linearly in log(relative rmse): the geometric mean is the halfway colour', () => {
    for (let index = 1; index < UNCERTAINTY_STOPS.length; index++) {
      const low = UNCERTAINTY_STOPS[index - 1]!;
      const high = UNCERTAINTY_STOPS[index]!;
      // Channels are whole numbers, so each may sit half a step from the exact mix.
      const halfway = low.rgb.map((channel, c) => (channel + high.rgb[c]!) / 2);
      expect(uncertaintyRgb(Math.sqrt(low.relativeRmse * high.relativeRmse))).toBeCloseToNested(halfway, { abs: 0.5 + 1e-9 });
      // A quarter of the way in log space is a quarter of the way in colour.
      const quarter = low.rgb.map((channel, c) => channel + 0.25 * (high.rgb[c]! - channel));
      expect(uncertaintyRgb(low.relativeRmse * (high.relativeRmse / low.relativeRmse) ** 0.25)).toBeCloseToNested(quarter, {
        abs: 0.5 + 1e-9,
      });
    }
  });

  test('more uncertainty is never greener: red minus green grows along the whole scale', () => {
    let previous = Number.NEGATIVE_INFINITY;
    for (let step = 0; step <= 400; step++) {
      const relative = 0.002 * 60 ** (step / 400);
      const [red, green] = uncertaintyRgb(relative);
      expect(red - green).toBeGreaterThanOrEqual(previous - 1);
      previous = red - green;
    }
    expect(previous).toBeGreaterThan(0);
  });

  test('the legend position is the log position between the first and last stops', () => {
    expect(scalePosition(0.005)).toBe(0);
    expect(scalePosition(0.08)).toBe(1);
    expect(scalePosition(0.02)).toBeCloseToNested(Math.log(4) / Math.log(16), { rel: 1e-12 });
    expect([scalePosition(0.001), scalePosition(1), scalePosition(Number.NaN)]).toEqual([0, 1, 0]);
  });

  test('relative rmse is rmse over the box diagonal, and colours print as #rrggbb', () => {
    expect(relativeRmse(10, { width: 30, height: 40 })).toBeCloseToNested(0.2, { rel: 1e-15 });
    expect(hexColour([0, 15, 255])).toBe('#000fff');
    expect(uncertaintyColour(0.08)).toBe('#d7191c');
  });
});

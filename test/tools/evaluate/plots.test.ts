import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { calibrationPlot, coveragePlot, cumulativeErrorPlot } from '../../../tools/evaluate/plots.js';

function numbers(text: string): number[] {
  return text
    .trim()
    .split(/[\s,]+/)
    .map(Number);
}

describe('SVG plots', () => {
  test('a perfectly calibrated series lies on the drawn identity line; an over-confident one lies above it', () => {
    const svg = calibrationPlot({
      honest: [1, 2, 3, 4].map((v) => ({ count: 5, predictedRmse: v, empiricalRmse: v })),
      'over-confident <a&b>': [1, 2].map((v) => ({ count: 5, predictedRmse: v, empiricalRmse: 2 * v })),
    });
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /over-confident &lt;a&amp;b&gt;/);
    assert.doesNotMatch(svg, /<a&b>/);
    const identity = svg.match(/class="identity" x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)" y2="([\d.]+)"/);
    assert.ok(identity);
    const [x1, y1, x2, y2] = identity.slice(1).map(Number) as [number, number, number, number];
    const onIdentity = (x: number, y: number) => (x - x1) * (y2 - y1) - (y - y1) * (x2 - x1);
    const polylines = [...svg.matchAll(/<polyline class="series" data-name="([^"]*)" points="([^"]*)"/g)];
    assert.equal(polylines.length, 2);
    const honest = numbers(polylines[0]![2]!);
    for (let i = 0; i < honest.length; i += 2)
      assert.ok(Math.abs(onIdentity(honest[i]!, honest[i + 1]!)) < 1e-6 * (x2 - x1) ** 2);
    const over = numbers(polylines[1]![2]!);
    // SVG y grows downward: above the line is a smaller y than the identity's at the same x.
    for (let i = 0; i < over.length; i += 2) assert.ok(over[i + 1]! < y1 + ((over[i]! - x1) * (y2 - y1)) / (x2 - x1));
  });

  test('coverage is drawn on [0, 1] × [0, 1] with one marker per level', () => {
    const svg = coveragePlot({ 'tta-off': { '0.5': 0.5, '0.8': 0.8, '0.9': 0.9, '0.95': 0.95, '0.99': 0.99 } });
    assert.equal([...svg.matchAll(/<circle /g)].length, 5);
    assert.match(svg, />ideal \(y = x\)</);
  });

  test('the cumulative error distribution is a non-decreasing step function that reaches 1', () => {
    const svg = cumulativeErrorPlot({ 'tta-off': [0.08, 0.02, 0.05, 0.3] }, 'NME', 0.2);
    const path = svg.match(/<path class="series" data-name="tta-off" d="([^"]*)"/);
    assert.ok(path);
    const steps = [...path[1]!.matchAll(/H ([\d.]+) V ([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    assert.equal(steps.length, 4);
    for (let i = 1; i < steps.length; i++) {
      assert.ok(steps[i]![0] >= steps[i - 1]![0], 'x never goes back');
      assert.ok(steps[i]![1] < steps[i - 1]![1], 'each error raises the curve');
    }
    // An error beyond the axis (0.3 > 0.2) is clamped to its edge rather than drawn outside the frame.
    const frame = svg.match(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/);
    assert.ok(frame);
    assert.equal(steps[3]![0], Number(frame[1]) + Number(frame[2]));
  });
});

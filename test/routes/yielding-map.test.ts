import { describe, expect, test } from 'vitest';
import { mapYielding } from '../../src/routes/yielding-map.js';

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('mapYielding', () => {
  test('gives the same results, in order, as Array.map', async () => {
    const items = Array.from({ length: 50 }, (_, index) => index * 3);
    expect(await mapYielding(items, (item, index) => item * 2 + index)).toEqual(items.map((item, index) => item * 2 + index));
  });

  test('other callbacks run while a long map is under way, not only after it', async () => {
    const events: string[] = [];
    // 40 items of 2 ms each: several slices, so other work must interleave.
    const mapping = mapYielding(Array.from({ length: 40 }), (_item, index) => {
      busy(2);
      if (index === 39) events.push('map finished its last item');
    });
    setTimeout(() => events.push('timer'), 0);
    await mapping;
    expect(events).toEqual(['timer', 'map finished its last item']);
  });

  test('a map that throws rejects with that error', async () => {
    await expect(
      mapYielding([1, 2, 3], (item) => {
        if (item === 2) throw new RangeError('item 2 is bad');
        return item;
      }),
    ).rejects.toThrow('item 2 is bad');
  });
});

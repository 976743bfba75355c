import { setImmediate as nextTurn } from 'node:timers/promises';

/** Longest stretch of evidence math between two turns of the event loop. */
const SLICE_MS = 10;

/**
 * Maps `items` like Array.map, but gives the event loop a turn whenever a slice of work has run for
 * SLICE_MS: fusion and triangulation cost milliseconds a point, so a request with hundreds of points
 * would otherwise keep health checks and every other request waiting until it is done.
 */
export async function mapYielding<T, R>(items: readonly T[], map: (item: T, index: number) => R): Promise<R[]> {
  const results: R[] = [];
  let sliceStart = performance.now();
  for (let index = 0; index < items.length; index++) {
    results.push(map(items[index]!, index));
    if (performance.now() - sliceStart > SLICE_MS) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  return results;
}

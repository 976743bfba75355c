/**
 * Memoized constants keyed by per-request numbers (δ, the level): past this many entries a cache starts
 * over, so that a stream of distinct values cannot grow it without bound.
 */
const MAX_REMEMBERED = 256;

/** `cache`'s value for `key`, computed by `compute` the first time (or again after the cache started over). */
export function remembered<T>(cache: Map<string, T>, key: string, compute: () => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    value = compute();
    if (cache.size >= MAX_REMEMBERED) cache.clear();
    cache.set(key, value);
  }
  return value;
}

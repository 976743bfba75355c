import assert from 'node:assert/strict';
import { test } from 'vitest';
import { CropBufferPool } from '../../src/pipeline/crop-buffer-pool.js';

test('a buffer handed back is the next one taken of its length, and only of its length', () => {
  const pool = new CropBufferPool(1 << 20);
  const first = pool.take(1000);
  assert.equal(first.length, 1000);
  pool.give(first);
  assert.equal(pool.idleBytes, 4000);
  const other = pool.take(500);
  assert.notEqual(other.buffer, first.buffer);
  assert.equal(pool.take(1000), first);
  assert.equal(pool.idleBytes, 0);
  assert.notEqual(pool.take(1000), first, 'a taken buffer is not handed out twice');
});

test('idle buffers past the byte limit are left to the garbage collector', () => {
  const pool = new CropBufferPool(10_000);
  const [a, b, c] = [pool.take(1000), pool.take(1000), pool.take(1000)];
  pool.give(a);
  pool.give(b);
  pool.give(c);
  assert.equal(pool.idleBytes, 8000);
  const taken = [pool.take(1000), pool.take(1000), pool.take(1000)];
  assert.deepEqual(
    taken.map((buffer) => [a, b, c].includes(buffer)),
    [true, true, false],
  );
});

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'vitest';
import { parseWflwAnnotations } from '../../../tools/evaluate/wflw-annotations.js';

/** A line in the file's real layout: 196 coordinates, x_min y_min x_max y_max, six flags, the path. */
function line(seed: number, box: [number, number, number, number], flags: string[], image: string): string {
  const coordinates = Array.from({ length: 196 }, (_, i) => (seed * 1000 + i * 0.731).toFixed(3));
  return [...coordinates, ...box.map(String), ...flags, image].join(' ');
}

describe('WFLW list_98pt_rect_attr file', () => {
  test('good lines become boxes, attributes read as integers, points and paths; each bad line is named by its number', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wflw-'));
    try {
      const file = path.join(dir, 'list_98pt_rect_attr_test.txt');
      const good = line(
        1,
        [10.5, 20, 110.5, 140],
        ['0', '1', '0', '0', '1', '0'],
        '51--Dresses/51_Dresses_wearingdress_51_377.jpg',
      );
      const allZero = line(2, [0, 0, 50, 60], ['0', '0', '0', '0', '0', '0'], '0--Parade/0_Parade_marchingband_1_116.jpg');
      const allOne = line(3, [5, 6, 7, 8], ['1', '1', '1', '1', '1', '1'], 'x.jpg');
      const fields = good.split(' ');
      const short = fields.slice(0, 200).join(' ');
      const notNumber = [...fields.slice(0, 7), 'abc', ...fields.slice(8)].join(' ');
      const badFlag = [...fields.slice(0, 201), '2', ...fields.slice(202)].join(' ');
      const emptyBox = line(4, [30, 30, 30, 40], ['0', '0', '0', '0', '0', '0'], 'y.jpg');
      // CRLF and a blank line, as files edited on Windows have.
      const text = [good, allZero, '', short, notNumber, allOne, badFlag, emptyBox].join('\r\n') + '\r\n';
      await writeFile(file, text);
      const set = parseWflwAnnotations(await readFile(file, 'utf8'), file);

      assert.equal(set.format, 'wflw');
      assert.equal(set.instances.length, 3);
      const [first, second, third] = set.instances;
      assert.deepEqual(first!.box, { x: 10.5, y: 20, width: 100, height: 120 });
      assert.equal(first!.image, '51--Dresses/51_Dresses_wearingdress_51_377.jpg');
      assert.deepEqual(first!.attributes, {
        pose: false,
        expression: true,
        illumination: false,
        makeup: false,
        occlusion: true,
        blur: false,
      });
      assert.equal(first!.points.length, 196);
      assert.equal(first!.points[0], 1000);
      assert.equal(first!.points[195], Number((1000 + 195 * 0.731).toFixed(3)));
      assert.ok(first!.labelled.length === 98 && first!.labelled.every(Boolean));
      assert.equal(first!.source, `${file}:1`);
      // The reference parser's bool('0') would make these all true (SPEC §8).
      assert.deepEqual(Object.values(second!.attributes!), [false, false, false, false, false, false]);
      assert.equal(second!.source, `${file}:2`);
      assert.deepEqual(Object.values(third!.attributes!), [true, true, true, true, true, true]);
      assert.equal(third!.source, `${file}:6`);

      assert.deepEqual(
        set.problems.map((problem) => problem.source),
        [4, 5, 7, 8].map((n) => `${file}:${n}`),
      );
      const [wrongCount, nan, flag, empty] = set.problems;
      assert.match(
        wrongCount!.reason,
        new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4: expected 207 fields .*got 200$`),
      );
      assert.equal(wrongCount!.image, undefined);
      assert.match(nan!.reason, /:5: landmark 3 y is not a finite number: "abc"/);
      assert.equal(nan!.image, '51--Dresses/51_Dresses_wearingdress_51_377.jpg');
      assert.match(flag!.reason, /:7: attribute expression must be 0 or 1, got "2"/);
      assert.match(empty!.reason, /:8: box .* is empty/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a line whose outer eye corners coincide is refused: its NME would divide by zero', () => {
    const fields = line(1, [0, 0, 10, 10], ['0', '0', '0', '0', '0', '0'], 'a.jpg').split(' ');
    fields[144] = fields[120]!;
    fields[145] = fields[121]!;
    const set = parseWflwAnnotations(fields.join(' '), 'list.txt');
    assert.equal(set.instances.length, 0);
    assert.match(set.problems[0]!.reason, /^list.txt:1: landmarks 60 and 72 \(the outer eye corners\) coincide/);
  });

  test('NaN and Infinity are refused as coordinates, not read as numbers', () => {
    const fields = line(1, [0, 0, 10, 10], ['0', '0', '0', '0', '0', '0'], 'a.jpg').split(' ');
    for (const bad of ['NaN', 'Infinity', '1e999', '0x10z']) {
      const set = parseWflwAnnotations([bad, ...fields.slice(1)].join(' '), 'list.txt');
      assert.equal(set.instances.length, 0, bad);
      assert.match(set.problems[0]!.reason, /^list.txt:1: landmark 0 x is not a finite number/, bad);
    }
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { CocoFileError, parseCocoAnnotations } from '../../../tools/evaluate/coco-annotations.js';

const images = [
  { id: 1, file_name: 'a.jpg' },
  { id: 2, file_name: 'b/c.jpg' },
];

function parse(document: unknown) {
  return parseCocoAnnotations(JSON.stringify(document), 'people.json');
}

describe('COCO keypoints file', () => {
  test('a file without annotations, without images, or not JSON is refused, naming the file and the missing member', () => {
    assert.throws(
      () => parse({ images }),
      (error: unknown) => error instanceof CocoFileError && /^people.json: missing `annotations`/.test(error.message),
    );
    assert.throws(
      () => parse({ annotations: [] }),
      (error: unknown) => error instanceof CocoFileError && /^people.json: missing `images`/.test(error.message),
    );
    assert.throws(
      () => parseCocoAnnotations('{"images": [', 'people.json'),
      (error: unknown) => error instanceof CocoFileError && /^people.json: not JSON/.test(error.message),
    );
    assert.throws(() => parse([1, 2]), CocoFileError);
    assert.throws(() => parse({ images, annotations: [], sigmas: [0.1, -1] }), /sigma must be positive/);
  });

  test('keypoints become points with v > 0 labelled (v = 1 included), area falls back to w·h, crowds and empty annotations are skipped', () => {
    const set = parse({
      images,
      sigmas: [0.1, 0.2, 0.3],
      annotations: [
        { id: 10, image_id: 1, bbox: [5, 6, 40, 50], keypoints: [1, 2, 2, 0, 0, 0, 3.5, 4.5, 1], area: 900 },
        { id: 11, image_id: 2, bbox: [0, 0, 10, 20], keypoints: [7, 8, 2, 9, 10, 2, 11, 12, 2] },
        { id: 12, image_id: 2, bbox: [0, 0, 10, 20], keypoints: [7, 8, 2, 9, 10, 2, 11, 12, 2], iscrowd: 1 },
        { id: 13, image_id: 1, bbox: [0, 0, 10, 20], keypoints: [0, 0, 0, 0, 0, 0, 0, 0, 0] },
      ],
    });
    assert.deepEqual(set.problems, []);
    assert.deepEqual(set.sigmas, [0.1, 0.2, 0.3]);
    assert.equal(set.instances.length, 2);
    const [first, second] = set.instances;
    assert.deepEqual(first, {
      source: 'people.json#annotation 10',
      image: 'a.jpg',
      box: { x: 5, y: 6, width: 40, height: 50 },
      points: [1, 2, 0, 0, 3.5, 4.5],
      labelled: [true, false, true],
      area: 900,
    });
    assert.equal(second!.image, 'b/c.jpg');
    assert.equal(second!.area, 200);
  });

  test('each bad annotation is reported with its id and the rest are kept', () => {
    const set = parse({
      images: [...images, { id: 3 }],
      sigmas: [0.1, 0.2],
      annotations: [
        { id: 20, image_id: 1, bbox: [0, 0, 10, 10], keypoints: [1, 2, 2, 3, 4, 2] },
        { id: 21, image_id: 9, bbox: [0, 0, 10, 10], keypoints: [1, 2, 2, 3, 4, 2] },
        { id: 22, image_id: 1, bbox: [0, 0, 10, 10], keypoints: [1, 'x', 2, 3, 4, 2] },
        { id: 23, image_id: 1, bbox: [0, 0, 10], keypoints: [1, 2, 2, 3, 4, 2] },
        { id: 24, image_id: 2, bbox: [0, 0, 10, 10], keypoints: [1, 2, 2, 3, 4] },
        { id: 25, image_id: 2, bbox: [0, 0, 0, 10], keypoints: [1, 2, 2, 3, 4, 2] },
        { id: 26, image_id: 2, bbox: [0, 0, 10, 10], keypoints: [1, 2, 2, 3, 4, 2, 5, 6, 2] },
        { id: 27, image_id: 2, bbox: [0, 0, 10, 10] },
        'not an annotation',
      ],
    });
    assert.deepEqual(
      set.instances.map((instance) => instance.source),
      ['people.json#annotation 20'],
    );
    const reasons = set.problems.map((problem) => problem.reason);
    assert.deepEqual(reasons, [
      'people.json: images[2] needs an id and a file_name',
      'people.json#annotation 21: image_id 9 is not among the images',
      'people.json#annotation 22: keypoints[1] is not a finite number: "x"',
      'people.json#annotation 23: bbox must be [x, y, w, h], got 3 numbers',
      'people.json#annotation 24: keypoints must hold [x, y, v] triples, got 5 numbers',
      'people.json#annotation 25: bbox width 0 and height 10 must be positive',
      'people.json#annotation 26: has 3 keypoints but sigmas has 2',
      'people.json#annotation 27: keypoints must be an array, got undefined',
      'people.json#annotation [8]: is not an object',
    ]);
    assert.equal(set.problems[2]!.image, 'a.jpg');
    assert.equal(set.problems[1]!.image, undefined);
  });
});

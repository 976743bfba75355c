import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'vitest';
import { flipPermutation, ManifestError, parseManifest } from '../../src/models/manifest.js';

const defaultManifestPath = 'models/resnet101-huber-wflw/manifest.json';

async function defaultManifest() {
  return JSON.parse(await readFile(defaultManifestPath, 'utf8'));
}

test('the committed default manifest is valid, untrained and pairs the WFLW landmarks', async () => {
  const manifest = parseManifest(await defaultManifest(), defaultManifestPath);
  assert.equal(manifest.trained, false);
  assert.equal(manifest.keypoints.length, 98);
  const flip = flipPermutation(manifest);
  // An involution: mirroring twice is the identity, and SPEC §7's pairs are in it.
  flip.forEach((partner, index) => assert.equal(flip[partner], index));
  for (const [a, b] of [[0, 32], [60, 72], [96, 97], [54, 54], [57, 57]] as const) assert.equal(flip[a], b);
});

test('each kind of defect is refused with a message naming the field and the file', async () => {
  const cases: Array<[string, (manifest: any) => void, RegExp]> = [
    ['unknown field', (manifest) => (manifest.colour = 'red'), /\(root\)|colour|additional/i],
    ['bad padding', (manifest) => (manifest.crop.padding = 'wrap'), /\/crop\/padding/],
    ['zero delta', (manifest) => (manifest.distribution.delta = 0), /\/distribution\/delta/],
    ['flip pair out of range', (manifest) => manifest.flipPairs.push([3, 120]), /flipPairs entry \[3, 120\] refers past the 98 keypoints/],
    ['keypoint in two pairs', (manifest) => manifest.flipPairs.push([0, 1]), /flipPairs entry \[0, 1\] repeats a keypoint/],
    ['edge out of range', (manifest) => manifest.edges.push([5, 98]), /edges entry \[5, 98\] refers past the 98 keypoints/],
    ['duplicate name', (manifest) => (manifest.keypoints[1].name = manifest.keypoints[0].name), /keypoint name "contour_0" appears twice/],
    ['singular whitening', (manifest) => (manifest.keypoints[2].whitening = [[1, 0.5], [2, 1]]), /keypoint "contour_2" whitening is singular/],
    ['path in file', (manifest) => (manifest.file = '../other/model.onnx'), /\/file/],
  ];
  for (const [label, mutate, pattern] of cases) {
    const manifest = await defaultManifest();
    mutate(manifest);
    assert.throws(
      () => parseManifest(manifest, 'models/x/manifest.json'),
      (error: Error) => error instanceof ManifestError && pattern.test(error.message) && error.message.startsWith('models/x/manifest.json'),
      label,
    );
  }
});

import assert from 'node:assert/strict';
import type { InferenceSession } from 'onnxruntime-node';

/** A Huber regressor's ONNX signature: input `input` [N, 3, S, S], output `output` [N, 5K], batch axis named N. */
export function assertHuberSignature(session: InferenceSession, inputSize: number, keypoints: number): void {
  const [input] = session.inputMetadata;
  const [output] = session.outputMetadata;
  assert.ok(input?.isTensor && output?.isTensor);
  assert.equal(input.name, 'input');
  assert.deepEqual(input.shape, ['N', 3, inputSize, inputSize]);
  assert.equal(output.name, 'output');
  assert.deepEqual(output.shape, ['N', 5 * keypoints]);
}

import { expect, test } from 'vitest';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { OnnxGraphBuilder, attr } from '../../tools/model-builder/onnx-graph-builder.js';

// y = relu(x·Wᵀ + b) · α, with a LeakyRelu float attribute in between to
// prove float attributes are typed as floats.
function smallModel(): Buffer {
  const g = new OnnxGraphBuilder({ name: 'small' });
  g.addInput('x', ['N', 3]);
  const w = g.addInitializer('w', Float32Array.from([1, 2, 3, -1, -2, -3]), [2, 3]);
  const b = g.addInitializer('b', Float32Array.from([0.5, 0.25]), [2]);
  const lin = g.op('Gemm', ['x', w, b], { transB: 1 });
  g.op('LeakyRelu', [lin], { alpha: attr.float(0.5) }, 'y');
  g.addOutput('y', ['N', 2]);
  return g.toBuffer();
}

function expected(x: number[]): number[] {
  const l0 = x[0]! + 2 * x[1]! + 3 * x[2]! + 0.5;
  const l1 = -x[0]! - 2 * x[1]! - 3 * x[2]! + 0.25;
  return [l0, l1].map((v) => (v >= 0 ? v : 0.5 * v));
}

test('a built graph loads in onnxruntime with the declared names and shapes', async () => {
  const session = await ort.InferenceSession.create(smallModel());
  assert.deepEqual(session.inputNames, ['x']);
  assert.deepEqual(session.outputNames, ['y']);
  const [input] = session.inputMetadata;
  const [output] = session.outputMetadata;
  assert.ok(input!.isTensor && output!.isTensor);
  assert.deepEqual(input!.shape, ['N', 3]);
  assert.deepEqual(output!.shape, ['N', 2]);
  assert.equal(input!.type, 'float32');
});

test('dynamic batch: batch 1 and batch 3 give the closed-form values', async () => {
  const session = await ort.InferenceSession.create(smallModel());
  const rows = [
    [1, 0, 0],
    [-1, 0.5, -2],
    [0.1, 0.2, 0.3],
  ];
  for (const batch of [rows.slice(0, 1), rows]) {
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from(batch.flat()), [batch.length, 3]) });
    assert.deepEqual(out.y!.dims, [batch.length, 2]);
    const y = out.y!.data as Float32Array;
    batch.forEach((row, i) => {
      const e = expected(row);
      expect(y.subarray(2 * i, 2 * i + 2), `row ${i}`).toBeCloseToNested(e, { abs: 1e-5 });
    });
  }
});

test('integer attributes reject non-integers, and names are unique', () => {
  const g = new OnnxGraphBuilder({ name: 'bad' });
  g.addInput('x', ['N', 3]);
  assert.throws(() => g.op('LeakyRelu', ['x'], { alpha: 0.5 }), /not an integer; use attr\.float/);
  assert.throws(() => g.addInitializer('x', new Float32Array(3), [3]), /duplicate tensor name x/);
  assert.throws(() => g.addInitializer('w', new Float32Array(5), [2, 3]), /5 values for dims \[2,3\]/);
});

test('initializers are serialized as raw data without rounding', () => {
  const data = Float32Array.from([Math.PI, -0, 1e-30, 3.4e38]);
  const g = new OnnxGraphBuilder({ name: 'raw' });
  g.addInput('x', [4]);
  g.addInitializer('c', data, [4]);
  g.op('Add', ['x', 'c'], undefined, 'y');
  g.addOutput('y', [4]);
  const bytes = g.toBuffer();
  const raw = Buffer.from(data.buffer);
  assert.ok(bytes.includes(raw), 'raw little-endian float32 bytes appear verbatim');
  assert.equal(g.parameterCount, 4);
});

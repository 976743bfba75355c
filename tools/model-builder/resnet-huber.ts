// torchvision ResNet trunk with the paper's Huber-regressor head, as ONNX, with
// seeded weights. This is what the untrained default model is made of, and the
// graph has the same shape a trained PyTorch export would have, so a trained
// model can replace it without changing anything else.
import { OnnxGraphBuilder } from './onnx-graph-builder.js';
import { SeededRandom, hashString } from '../seeded-random.js';

export type ResNetDepth = 'resnet18' | 'resnet34' | 'resnet50' | 'resnet101';

interface Topology {
  bottleneck: boolean;
  layers: readonly [number, number, number, number];
}

const TOPOLOGY: Record<ResNetDepth, Topology> = {
  resnet18: { bottleneck: false, layers: [2, 2, 2, 2] },
  resnet34: { bottleneck: false, layers: [3, 4, 6, 3] },
  resnet50: { bottleneck: true, layers: [3, 4, 6, 3] },
  resnet101: { bottleneck: true, layers: [3, 4, 23, 3] },
};

export interface ResNetHuberOptions {
  blocks: ResNetDepth;
  /** K: the output has 5K values, [ν_x, ν_y, b₁₁, b₁₂, b₂₂] per keypoint. */
  keypoints: number;
  /**
   * S, a multiple of 32. The trunk reduces S to S/32 and the head's depthwise
   * kernel is S/32 × S/32 (7 × 7 at the usual 224), so it always ends at 1 × 1.
   */
  inputSize?: number;
  seed?: number;
  /**
   * Multiplies the last conv of every residual branch. Without batch
   * statistics to tame it, an untrained deep ResNet's activations grow with
   * each block; a small branch scale keeps every block close to identity
   * (the same idea as torchvision's zero_init_residual, but not zero, so the
   * branches still do something).
   */
  residualScale?: number;
  /** Standard deviation of the final linear layer's outputs per unit input second moment. */
  headScale?: number;
  /**
   * Added to the bias of every diagonal precision output (b₁₁, b₂₂). Negative
   * values make an untrained model report a wide distribution instead of
   * the sharp one the eigenvalue offset would give it.
   */
  diagonalBias?: number;
  inputName?: string;
  outputName?: string;
}

interface Ctx {
  g: OnnxGraphBuilder;
  seed: number;
}

function heNormal(ctx: Ctx, name: string, count: number, fanIn: number, scale = 1): Float32Array {
  const rng = new SeededRandom(ctx.seed, hashString(name));
  return rng.fillNormal(new Float32Array(count), scale * Math.sqrt(2 / fanIn));
}

// BatchNorm is folded into the preceding conv's weight and bias, as an
// inference export would do (at seeded init BN is the identity, so the fold
// leaves He-normal weights and a zero bias). Every conv therefore carries a
// bias, exactly where a folded trained model has one.
function conv(
  ctx: Ctx,
  x: string,
  prefix: string,
  cin: number,
  cout: number,
  k: number,
  stride: number,
  pad: number,
  opts: { group?: number; scale?: number; relu?: boolean } = {},
): string {
  const group = opts.group ?? 1;
  const cinPerGroup = cin / group;
  const w = ctx.g.addInitializer(
    `${prefix}.weight`,
    heNormal(ctx, `${prefix}.weight`, cout * cinPerGroup * k * k, cinPerGroup * k * k, opts.scale),
    [cout, cinPerGroup, k, k],
  );
  const b = ctx.g.addInitializer(`${prefix}.bias`, new Float32Array(cout), [cout]);
  const y = ctx.g.op(
    'Conv',
    [x, w, b],
    { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad], group, dilations: [1, 1] },
    prefix,
  );
  return opts.relu ? ctx.g.op('Relu', [y], undefined, `${prefix}.relu`) : y;
}

function block(
  ctx: Ctx,
  x: string,
  prefix: string,
  cin: number,
  planes: number,
  stride: number,
  bottleneck: boolean,
  residualScale: number,
): { y: string; cout: number } {
  const expansion = bottleneck ? 4 : 1;
  const cout = planes * expansion;
  let branch: string;
  if (bottleneck) {
    // torchvision "v1.5": the stride sits on the 3×3 conv.
    branch = conv(ctx, x, `${prefix}.conv1`, cin, planes, 1, 1, 0, { relu: true });
    branch = conv(ctx, branch, `${prefix}.conv2`, planes, planes, 3, stride, 1, { relu: true });
    branch = conv(ctx, branch, `${prefix}.conv3`, planes, cout, 1, 1, 0, { scale: residualScale });
  } else {
    branch = conv(ctx, x, `${prefix}.conv1`, cin, planes, 3, stride, 1, { relu: true });
    branch = conv(ctx, branch, `${prefix}.conv2`, planes, planes, 3, 1, 1, { scale: residualScale });
  }
  // The projection shortcut's output is used as is (no ReLU before the sum),
  // so fan-in scaling (gain 1, not 2) keeps its second moment.
  const shortcut =
    stride !== 1 || cin !== cout ? conv(ctx, x, `${prefix}.downsample.0`, cin, cout, 1, stride, 0, { scale: Math.SQRT1_2 }) : x;
  const sum = ctx.g.op('Add', [branch, shortcut], undefined, `${prefix}.add`);
  return { y: ctx.g.op('Relu', [sum], undefined, `${prefix}.out`), cout };
}

/** Builds the graph; `buildResNetHuber` serializes it. */
export function buildResNetHuberGraph(options: ResNetHuberOptions): OnnxGraphBuilder {
  const topology = TOPOLOGY[options.blocks];
  if (!topology) throw new Error(`unknown ResNet depth ${String(options.blocks)}`);
  const K = options.keypoints;
  if (!Number.isInteger(K) || K < 1) throw new Error(`keypoints must be a positive integer, got ${K}`);
  const S = options.inputSize ?? 224;
  if (!Number.isInteger(S) || S < 32 || S % 32 !== 0) throw new Error(`inputSize must be a multiple of 32, got ${S}`);
  const residualScale = options.residualScale ?? 0.2;
  const headScale = options.headScale ?? 0.25;
  const diagonalBias = options.diagonalBias ?? 0;
  const inputName = options.inputName ?? 'input';
  const outputName = options.outputName ?? 'output';

  const g = new OnnxGraphBuilder({
    name: `${options.blocks}-huber`,
    docString:
      `${options.blocks} trunk + depthwise ${S / 32}x${S / 32} conv + linear head, ${K} keypoints x ` +
      `[nu_x, nu_y, b11, b12, b22]; seeded, untrained weights (seed ${options.seed ?? 0})`,
  });
  const ctx: Ctx = { g, seed: options.seed ?? 0 };
  g.addInput(inputName, ['N', 3, S, S]);

  let x = conv(ctx, inputName, 'conv1', 3, 64, 7, 2, 3, { relu: true });
  x = g.op('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, 'maxpool');

  let cin = 64;
  topology.layers.forEach((count, li) => {
    const planes = 64 << li;
    for (let bi = 0; bi < count; bi++) {
      const stride = bi === 0 && li > 0 ? 2 : 1;
      const r = block(ctx, x, `layer${li + 1}.${bi}`, cin, planes, stride, topology.bottleneck, residualScale);
      x = r.y;
      cin = r.cout;
    }
  });

  // The paper's head: a depthwise conv over the whole final map replaces
  // global average pooling (it can learn where to look), then one linear layer.
  const k = S / 32;
  x = conv(ctx, x, 'head.depthwise', cin, cin, k, 1, 0, { group: cin, scale: Math.SQRT1_2 });
  x = g.op('Flatten', [x], { axis: 1 }, 'head.flatten');
  const outputs = 5 * K;
  const fcW = g.addInitializer(
    'head.fc.weight',
    new SeededRandom(ctx.seed, hashString('head.fc.weight')).fillNormal(
      new Float32Array(outputs * cin),
      headScale / Math.sqrt(cin),
    ),
    [outputs, cin],
  );
  const bias = new Float32Array(outputs);
  for (let kp = 0; kp < K; kp++) {
    bias[5 * kp + 2] = diagonalBias;
    bias[5 * kp + 4] = diagonalBias;
  }
  const fcB = g.addInitializer('head.fc.bias', bias, [outputs]);
  g.op('Gemm', [x, fcW, fcB], { transB: 1 }, outputName);
  g.addOutput(outputName, ['N', outputs]);
  return g;
}

/** Serialized ONNX model; the same options always give the same bytes. */
export function buildResNetHuber(options: ResNetHuberOptions): Buffer {
  return buildResNetHuberGraph(options).toBuffer();
}

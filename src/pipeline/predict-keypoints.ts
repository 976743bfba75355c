import { performance } from 'node:perf_hooks';
import { DeadlineExceededError } from '../inference/dynamic-batcher.js';
import { fuseKeypointViews, type FusedKeypoint, type PlanarView, type PlanarViewKeypoint } from '../huber/index.js';
import { DomainError } from '../domain-errors.js';
import type { Metrics } from '../metrics.js';
import type { ServedModel } from '../models/model-registry.js';
import { inputToImage, mirroredInputToImage, planCrop, sampleCrop, type Box } from './crop-sampler.js';
import { nextTurn } from './event-loop-turns.js';
import { decodeImage, type DecodedImage } from './image-decoder.js';

export interface PredictRequest {
  /** An encoded image file, or pixels already decoded (RGB, row-major; KServe's UINT8 tensor). */
  image: Buffer | DecodedImage;
  boxes: Box[] | undefined;
  tta: boolean;
  fusion: 'ml' | 'mean';
  level: number;
  includeViews: boolean;
  /** performance.now() time after which the answer is no longer wanted. */
  deadline: number;
}

export interface PredictLimits {
  maxPixels: number;
  maxBoxes: number;
  maxQueueCrops: number;
  maxDeadlineMs: number;
  maxEventLoopDelayMs: number;
}

type KeypointOut = {
  name: string;
  x: number;
  y: number;
  covariance: [[number, number], [number, number]];
  ellipse: FusedKeypoint['ellipse'];
  rmse: number;
};

export interface InstanceOut {
  box: Box;
  keypoints: KeypointOut[];
  views?: Array<{ mirrored: boolean; keypoints: KeypointOut[] }>;
}

const MAX_BOX_COORDINATE = 1e9;
// Far below any real object, far above where the crop's scale and the precision's 1/scale² underflow.
const MIN_BOX_SIDE = 1e-3;

/** Boxes must be finite, non-empty and overlap the image; each failure names the box by its index. */
export function checkBoxes(boxes: Box[], width: number, height: number, maxBoxes: number): void {
  if (boxes.length > maxBoxes)
    throw new DomainError('too-many-boxes', `${boxes.length} boxes sent, more than the limit of ${maxBoxes}`);
  boxes.forEach((box, index) => {
    const values = [box.x, box.y, box.width, box.height];
    if (!values.every(Number.isFinite)) {
      throw new DomainError('invalid-box', `boxes[${index}] ${JSON.stringify(box)} has a non-finite value`);
    }
    // Finite is not enough: a 1e308-wide box overflows the crop's affine map to Infinity.
    if (values.some((value) => Math.abs(value) > MAX_BOX_COORDINATE)) {
      throw new DomainError('invalid-box', `boxes[${index}] ${JSON.stringify(box)} has a value beyond ±${MAX_BOX_COORDINATE} px`);
    }
    if (!(box.width >= MIN_BOX_SIDE && box.height >= MIN_BOX_SIDE)) {
      throw new DomainError(
        'invalid-box',
        `boxes[${index}] has width ${box.width} and height ${box.height}; both must be at least ${MIN_BOX_SIDE} px`,
      );
    }
    if (box.x >= width || box.y >= height || box.x + box.width <= 0 || box.y + box.height <= 0) {
      throw new DomainError(
        'box-outside-image',
        `boxes[${index}] {x: ${box.x}, y: ${box.y}, width: ${box.width}, height: ${box.height}} lies outside the ${width}×${height} image`,
      );
    }
  });
}

function keypointOut(name: string, keypoint: PlanarViewKeypoint): KeypointOut {
  return { name, x: keypoint.x, y: keypoint.y, covariance: keypoint.covariance, ellipse: keypoint.ellipse, rmse: keypoint.rmse };
}

/** Crops of requests admitted for a model whose images are still being decoded. */
const decodingCrops = new WeakMap<ServedModel, number>();

/**
 * Admission before decoding: under overload a request the queue cannot take is refused before it
 * costs a decode, and decodes admitted but not yet queued count against the same bound, so the
 * libuv pool's queue of decodes cannot grow without limit behind a full model queue. An empty queue
 * takes any request, so one larger than the limit is slow rather than impossible.
 */
function admit(model: ServedModel, crops: number, limits: PredictLimits): () => void {
  const decoding = decodingCrops.get(model) ?? 0;
  const ahead = model.batcher.depth + decoding;
  if (ahead > 0 && ahead + crops > limits.maxQueueCrops) {
    throw new DomainError(
      'queue-full',
      `model "${model.manifest.name}" has ${model.batcher.depth} crops queued and ${decoding} being decoded; this request adds ${crops}, past the limit of ${limits.maxQueueCrops}; retry shortly`,
      1,
    );
  }
  decodingCrops.set(model, decoding + crops);
  return () => decodingCrops.set(model, (decodingCrops.get(model) ?? crops) - crops);
}

/**
 * The image stage: admission, decode, box checks and crop sampling. It returns only the crops, the
 * geometry that made them and the image's size, so the decoded pixels are garbage as soon as it
 * returns instead of being held while the request waits for inference.
 */
async function decodeAndSample(
  model: ServedModel,
  request: PredictRequest,
  limits: PredictLimits,
  onDecoded: ((image: DecodedImage) => void) | undefined,
) {
  const boxCount = request.boxes && request.boxes.length > 0 ? Math.min(request.boxes.length, limits.maxBoxes) : 1;
  const release = admit(model, boxCount * (request.tta ? 2 : 1), limits);
  let image: Awaited<ReturnType<typeof decodeImage>>;
  try {
    image = Buffer.isBuffer(request.image) ? await decodeImage(request.image, { maxPixels: limits.maxPixels }) : request.image;
  } finally {
    release();
  }
  await nextTurn();
  onDecoded?.(image);
  const boxes =
    request.boxes && request.boxes.length > 0 ? request.boxes : [{ x: 0, y: 0, width: image.width, height: image.height }];
  checkBoxes(boxes, image.width, image.height, limits.maxBoxes);
  const { manifest, itemSize } = model;
  const viewCount = request.tta ? 2 : 1;
  // Every element is written below (each view's three planes), so a reused buffer needs no clearing.
  const crops = model.cropBuffers.take(boxes.length * viewCount * itemSize);
  const geometries = boxes.map((box, index) => {
    const crop = planCrop(box, manifest.crop.scale, manifest.input.size);
    const offset = index * viewCount * itemSize;
    sampleCrop(image, crop, manifest.crop.padding, manifest.input, crops, offset, request.tta ? offset + itemSize : null);
    return crop;
  });
  return { image: { width: image.width, height: image.height }, boxes, crops, geometries };
}

/**
 * `onDecoded` receives the EXIF-oriented decoded image, for callers that draw on it (render); keeping it
 * holds its pixels while the request waits for inference, which predict alone avoids.
 */
export async function predictKeypoints(
  model: ServedModel,
  request: PredictRequest,
  limits: PredictLimits,
  metrics: Metrics,
  onDecoded?: (image: DecodedImage) => void,
) {
  const name = model.manifest.name;
  const started = performance.now();
  const { image, boxes, crops, geometries } = await decodeAndSample(model, request, limits, onDecoded);
  const { outputSize, manifest } = model;
  const viewCount = request.tta ? 2 : 1;
  const decoded = performance.now();
  metrics.stageDuration.observe({ model: name, stage: 'decode' }, (decoded - started) / 1000);

  let outputs: Float32Array;
  try {
    if (decoded > request.deadline) {
      throw new DomainError(
        'deadline-exceeded',
        'the request deadline passed while the image was decoded; nothing was sent to the model',
      );
    }
    outputs = await model.batcher.submit(crops, boxes.length * viewCount, request.deadline);
  } catch (error) {
    if (error instanceof DomainError) throw error;
    if (error instanceof DeadlineExceededError) {
      throw new DomainError(
        'deadline-exceeded',
        `the request deadline passed while it waited for a batch (${error.message}); nothing was sent to the model`,
      );
    }
    // The cause goes to the log, never to the client.
    throw new DomainError('inference-failed', `inference failed for model "${name}"; retry the request`, undefined, {
      cause: error,
    });
  } finally {
    // Settled, the submission's crops are never read again (the batcher copies them at dispatch).
    model.cropBuffers.give(crops);
  }
  await nextTurn();
  const inferred = performance.now();

  const names = model.keypointNames;
  const instances: InstanceOut[] = boxes.map((box, index) => {
    const crop = geometries[index]!;
    const base = index * viewCount * outputSize;
    const views: PlanarView[] = [{ raw: outputs, offset: base, inputToImage: inputToImage(crop), slotToKeypoint: null }];
    if (request.tta) {
      views.push({
        raw: outputs,
        offset: base + outputSize,
        inputToImage: mirroredInputToImage(crop),
        slotToKeypoint: model.flip,
      });
    }
    const result = fuseKeypointViews(views, model.normalization, manifest.distribution, {
      fusion: request.fusion,
      level: request.level,
      includeViews: request.includeViews,
    });
    const diagonal = Math.hypot(box.width, box.height);
    for (const keypoint of result.keypoints) {
      if (viewCount > 1 && request.fusion === 'ml') metrics.fusionIterations.observe({ model: name }, keypoint.iterations);
      metrics.relativeRmse.observe({ model: name }, keypoint.rmse / diagonal);
    }
    const instance: InstanceOut = {
      box: { x: box.x, y: box.y, width: box.width, height: box.height },
      keypoints: result.keypoints.map((keypoint, k) => keypointOut(names[k]!, keypoint)),
    };
    if (request.includeViews && result.views) {
      instance.views = result.views.map((view, v) => ({
        mirrored: v === 1,
        keypoints: view.map((keypoint, k) => keypointOut(names[k]!, keypoint)),
      }));
    }
    return instance;
  });
  metrics.predictions.inc({ model: name }, boxes.length);
  const finished = performance.now();
  metrics.stageDuration.observe({ model: name, stage: 'postprocess' }, (finished - inferred) / 1000);
  return {
    model: {
      name,
      version: manifest.version,
      trained: manifest.trained,
      executionProvider: model.executionProvider,
      precision: model.precision,
    },
    image,
    instances,
    timings: {
      decodeMs: decoded - started,
      inferenceMs: inferred - decoded,
      postprocessMs: finished - inferred,
      totalMs: finished - started,
    },
  };
}

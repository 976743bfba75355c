/**
 * Sends every image and box of a labelled set through the running service with the generated TypeScript
 * client, once per compared setting, so the numbers are what clients of the service get (docs/spec.md §10).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  createHuberKeypointsClient,
  predictFormData,
  type HuberKeypointsClient,
  type PredictResponse,
} from '../../clients/typescript/index.js';
import type { LabelledInstance } from './labelled-set.js';
import type { ReturnedKeypoint } from './probabilistic-metrics.js';
import { DEFAULT_RETRY, retryingFetch, type RetryOptions } from './retrying-fetch.js';
import { SETTING_NAMES, SETTINGS, type ScoredInstance, type SettingName } from './setting-metrics.js';

/** The service's default MAX_BOXES: an image with more boxes is sent in several requests. */
export const BOXES_PER_REQUEST = 64;

type PredictModel = PredictResponse['model'];
/** The model as predict returns it; until a predict succeeds, the same facts from the model's description. */
export type ServedModel = PredictModel | Pick<PredictModel, 'name' | 'version' | 'trained' | 'executionProvider'>;

export interface ImageFailure {
  image: string;
  reason: string;
}

/** The run cannot start (unknown model, service unreachable, manifest without δ): nothing to report. */
export class EvaluationError extends Error {}

export interface EvaluationOptions {
  url: string;
  model: string;
  token?: string | undefined;
  imagesDir: string;
  instances: readonly LabelledInstance[];
  concurrency: number;
  signal?: AbortSignal;
  retry?: RetryOptions;
  onImageDone?: (done: number, total: number) => void;
}

export interface EvaluationRun {
  model: ServedModel;
  delta: number;
  keypointCount: number;
  /** Distinct image files whose every request succeeded. */
  images: number;
  scored: Record<SettingName, ScoredInstance[]>;
  failed: ImageFailure[];
  /** Stopped (Ctrl-C) before every image was sent. */
  partial: boolean;
}

class ImageFailed extends Error {}

interface ModelFacts {
  model: ServedModel;
  delta: number;
  keypointCount: number;
}

async function readModel(client: HuberKeypointsClient, name: string, signal: AbortSignal): Promise<ModelFacts> {
  let result;
  try {
    result = await client.GET('/v1/models/{model}', { params: { path: { model: name } }, signal });
  } catch (error) {
    throw new EvaluationError(`cannot reach the service: ${(error as Error).message}`, { cause: error });
  }
  const { data, error, response } = result;
  if (data === undefined)
    throw new EvaluationError(`model ${name}: HTTP ${response.status}: ${error?.detail ?? response.statusText}`);
  if (data.state === 'failed') throw new EvaluationError(`model ${name} failed to load: ${data.error ?? 'no reason given'}`);
  const manifest = data.manifest as { distribution?: { delta?: unknown }; keypoints?: unknown } | null;
  const delta = manifest?.distribution?.delta;
  if (typeof delta !== 'number' || !(delta > 0))
    throw new EvaluationError(`model ${name}: the manifest gives no positive distribution.delta`);
  if (!Array.isArray(manifest?.keypoints)) throw new EvaluationError(`model ${name}: the manifest lists no keypoints`);
  return {
    model: {
      name: data.name,
      version: data.version ?? '',
      trained: data.trained ?? false,
      executionProvider: data.executionProvider ?? '',
    },
    delta,
    keypointCount: manifest.keypoints.length,
  };
}

function checkKeypoints(keypoints: readonly ReturnedKeypoint[], count: number, box: number): void {
  if (keypoints.length !== count)
    throw new ImageFailed(`box ${box}: the service returned ${keypoints.length} keypoints, the model has ${count}`);
  keypoints.forEach((keypoint, k) => {
    const [[sxx, sxy] = [], [syx, syy] = []] = keypoint.covariance;
    const values = [keypoint.x, keypoint.y, sxx, sxy, syx, syy];
    if (
      !values.every((value) => typeof value === 'number' && Number.isFinite(value)) ||
      !(sxx! > 0 && sxx! * syy! - sxy! * syx! > 0)
    ) {
      throw new ImageFailed(
        `box ${box}, keypoint ${k}: the service returned a mean or covariance that is not finite and positive definite`,
      );
    }
  });
}

/** Where the annotations name an image, so a missing file can be traced to its lines. */
function namedBy(instances: readonly LabelledInstance[]): string {
  const shown = instances.slice(0, 3).map((instance) => instance.source);
  return `named by ${shown.join(', ')}${instances.length > shown.length ? ` and ${instances.length - shown.length} more` : ''}`;
}

function describeFailure(status: number, problem: { title?: string; detail?: string } | undefined): string {
  return `HTTP ${status}${problem?.title ? ` ${problem.title}` : ''}${problem?.detail ? `: ${problem.detail}` : ''}`;
}

export async function evaluate(options: EvaluationOptions): Promise<EvaluationRun> {
  const signal = options.signal ?? new AbortController().signal;
  const client = createHuberKeypointsClient(options.url, {
    ...(options.token !== undefined ? { token: options.token } : {}),
    fetch: retryingFetch(options.retry ?? DEFAULT_RETRY),
  });
  const facts = await readModel(client, options.model, signal);
  let model: ServedModel = facts.model;

  const failed: ImageFailure[] = [];
  const groups = new Map<string, LabelledInstance[]>();
  for (const instance of options.instances) {
    if (instance.points.length !== 2 * facts.keypointCount) {
      failed.push({
        image: instance.image,
        reason: `${instance.source}: ${instance.points.length / 2} keypoints annotated, the model ${options.model} has ${facts.keypointCount}`,
      });
      continue;
    }
    const group = groups.get(instance.image);
    if (group) group.push(instance);
    else groups.set(instance.image, [instance]);
  }
  if (groups.size === 0 && failed.length > 0) {
    // Every instance disagrees with the model (a 2-keypoint model on WFLW): one message, not thousands of failures.
    throw new EvaluationError(failed[0]!.reason);
  }
  const images = [...groups.entries()];
  // Indexed by image so the pooled order, and so every number, does not depend on which request finished first.
  const results: (Record<SettingName, ScoredInstance[]> | undefined)[] = new Array(images.length);
  const imageFailures: (ImageFailure | undefined)[] = new Array(images.length);

  async function evaluateImage(image: string, instances: LabelledInstance[]): Promise<Record<SettingName, ScoredInstance[]>> {
    const file = path.resolve(options.imagesDir, image);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ImageFailed(
        `${code === 'ENOENT' ? `image file not found: ${file}` : `cannot read ${file}: ${(error as Error).message}`} (${namedBy(instances)})`,
      );
    }
    const blob = new Blob([new Uint8Array(bytes)]);
    const scored = {} as Record<SettingName, ScoredInstance[]>;
    for (const setting of SETTING_NAMES) {
      scored[setting] = [];
      for (let start = 0; start < instances.length; start += BOXES_PER_REQUEST) {
        const chunk = instances.slice(start, start + BOXES_PER_REQUEST);
        const boxes = chunk.map((instance) => instance.box);
        const { data, error, response } = await client.POST('/v1/models/{model}/predict', {
          params: { path: { model: options.model } },
          body: { image: image, boxes, ...SETTINGS[setting] },
          bodySerializer: (body) => predictFormData({ ...body, image: blob }),
          signal,
        });
        if (data === undefined) throw new ImageFailed(`${setting}: ${describeFailure(response.status, error)}`);
        if (data.instances.length !== chunk.length) {
          throw new ImageFailed(`${setting}: ${chunk.length} boxes sent, ${data.instances.length} instances returned`);
        }
        model = data.model;
        data.instances.forEach((returned, i) => {
          checkKeypoints(returned.keypoints, facts.keypointCount, start + i);
          scored[setting].push({ instance: chunk[i]!, keypoints: returned.keypoints });
        });
      }
    }
    return scored;
  }

  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (!signal.aborted && next < images.length) {
      const index = next++;
      const [image, instances] = images[index]!;
      try {
        results[index] = await evaluateImage(image, instances);
      } catch (error) {
        // An image cut off by Ctrl-C did not fail; it simply was not evaluated.
        if (signal.aborted) return;
        imageFailures[index] = {
          image,
          reason: error instanceof ImageFailed ? error.message : `request failed: ${(error as Error).message}`,
        };
      }
      done++;
      options.onImageDone?.(done, images.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, images.length)) }, worker));

  const scored = Object.fromEntries(SETTING_NAMES.map((setting) => [setting, [] as ScoredInstance[]])) as Record<
    SettingName,
    ScoredInstance[]
  >;
  let evaluatedImages = 0;
  results.forEach((result) => {
    if (result === undefined) return;
    evaluatedImages++;
    for (const setting of SETTING_NAMES) scored[setting].push(...result[setting]);
  });
  for (const failure of imageFailures) if (failure) failed.push(failure);
  return {
    model,
    delta: facts.delta,
    keypointCount: facts.keypointCount,
    images: evaluatedImages,
    scored,
    failed,
    partial: signal.aborted && done < images.length,
  };
}

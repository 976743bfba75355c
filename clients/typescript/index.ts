import createClient, { type Client, type ClientOptions, type MethodResponse } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };
export type HuberKeypointsClient = Client<paths>;

/** Problem details (RFC 9457), the body of every error response. */
export type Problem = components['schemas']['Problem'];
/** The success bodies as the client's methods return them. */
export type PredictResponse = MethodResponse<HuberKeypointsClient, 'post', '/v1/models/{model}/predict'>;
export type ModelInfo = MethodResponse<HuberKeypointsClient, 'get', '/v1/models/{model}'>;

/**
 * A typed client for huber-keypoints, generated from openapi/openapi.json (`npm run client:generate`).
 * `token` sends `Authorization: Bearer …` for servers that set AUTH_TOKEN.
 */
export function createHuberKeypointsClient(
  baseUrl: string,
  options: Omit<ClientOptions, 'baseUrl'> & { token?: string } = {},
): HuberKeypointsClient {
  const { token, headers, ...rest } = options;
  return createClient<paths>({
    baseUrl,
    ...rest,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(headers as Record<string, string> | undefined) },
  });
}

/**
 * openapi-fetch's bodySerializer for the multipart predict: the image as a file part, `boxes` as
 * JSON text, the other options as plain fields.
 */
export function predictFormData(body: {
  image: Blob;
  boxes?: Array<{ x: number; y: number; width: number; height: number }>;
  tta?: boolean;
  fusion?: 'ml' | 'mean';
  level?: number;
  includeViews?: boolean;
}): FormData {
  const form = new FormData();
  form.append('image', body.image, 'image');
  // A text field, not a file part: the server takes exactly one file, the image.
  if (body.boxes) form.append('boxes', JSON.stringify(body.boxes));
  for (const key of ['tta', 'fusion', 'level', 'includeViews'] as const) {
    if (body[key] !== undefined) form.append(key, String(body[key]));
  }
  return form;
}

import Type, { type Static } from 'typebox';
import { RENDER_FORMATS } from '../render/render-image.js';
import { Box, PredictJsonBody, PredictMultipartBody } from './predict.js';

const format = Type.Optional(
  Type.Union(
    RENDER_FORMATS.map((name) => Type.Literal(name)),
    {
      description:
        'Picture format: png, jpeg, or svg (a vector overlay embedding the image). When omitted, the Accept header chooses; PNG when it allows anything.',
    },
  ),
);

/** Predict's JSON input and every option, plus `format`. */
export const RenderJsonBody = Type.Object(
  { ...PredictJsonBody.properties, format },
  {
    additionalProperties: false,
    examples: [
      {
        image:
          'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAADElEQVQImWNgYGAAAAAEAAGjChXjAAAAAElFTkSuQmCC',
        boxes: [{ x: 420, y: 160, width: 300, height: 340 }],
        level: 0.95,
        format: 'png',
      },
    ],
  },
);

/** Predict's multipart form, plus a `format` field. */
export const RenderMultipartBody = Type.Object(
  { ...PredictMultipartBody.properties, format },
  {
    additionalProperties: false,
    examples: [{ image: '(PNG or JPEG file bytes)', boxes: [{ x: 420, y: 160, width: 300, height: 340 }], format: 'svg' }],
  },
);

/**
 * The body after validation, which fills every default; `image` as text (JSON) or bytes (multipart),
 * `boxes` typed through the Box schema that the body refers to by $ref.
 */
export type RenderBody = Required<Omit<Static<typeof RenderJsonBody>, 'image' | 'boxes' | 'format'>> &
  Pick<Static<typeof RenderJsonBody>, 'format'> & { image: string | Buffer; boxes?: Static<typeof Box>[] };

const picture = (example: string) => ({ schema: { type: 'string', format: 'binary', examples: [example] } });

/** The 200 answer in each format. */
export const RenderResponse = {
  description:
    "The EXIF-oriented image at its pixel size with boxes, means, ellipses and edges drawn: PNG (the default), JPEG (quality 90), or SVG whose viewBox is the image's pixel grid, the image embedded as a data URI, each mean and ellipse with a <title> for hover.",
  headers: {
    'x-model-trained': {
      description: "The manifest's `trained`: false for demonstration weights (the picture's legend says so too).",
      schema: { type: 'string', enum: ['true', 'false'] },
    },
  },
  content: {
    'image/png': picture('(PNG file bytes)'),
    'image/jpeg': picture('(JPEG file bytes)'),
    'image/svg+xml': picture(
      '<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480" viewBox="0 0 640 480"><image class="input" href="data:image/jpeg;base64,…"/>…<ellipse cx="469.69" cy="314.36" rx="31.06" ry="20.15" transform="rotate(86.8 469.69 314.36)" class="uncertainty" stroke="#fdae61"><title>contour_0 …</title></ellipse>…</svg>',
    ),
  },
};

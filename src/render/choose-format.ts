/**
 * Which picture format a render request gets (docs/spec.md §11): the `format` field when given, else the
 * best of PNG, JPEG and SVG that `Accept` allows (RFC 9110 §12.5.1 q-values; ties go to the order
 * the client listed), PNG when `Accept` is absent or allows anything. Null: nothing acceptable.
 */
import { RENDER_CONTENT_TYPES, RENDER_FORMATS, type RenderFormat } from './render-image.js';

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
  order: number;
}

function parseAccept(header: string): MediaRange[] {
  return header
    .split(',')
    .map((entry, order) => {
      const [range = '', ...parameters] = entry.split(';').map((part) => part.trim().toLowerCase());
      const [type = '', subtype = ''] = range.split('/');
      const qParameter = parameters.find((parameter) => parameter.startsWith('q='));
      const q = qParameter === undefined ? 1 : Number(qParameter.slice(2));
      return { type, subtype, q: Number.isFinite(q) ? q : 0, order };
    })
    .filter((range) => range.type !== '' && range.subtype !== '');
}

/** The most specific range that matches, as RFC 9110 says precedence goes. */
function quality(contentType: string, ranges: readonly MediaRange[]): { q: number; order: number } | null {
  const [type, subtype] = contentType.split('/');
  const specificity = (range: MediaRange) =>
    range.type === type && range.subtype === subtype
      ? 2
      : range.type === type && range.subtype === '*'
        ? 1
        : range.type === '*'
          ? 0
          : -1;
  let best: MediaRange | null = null;
  for (const range of ranges) {
    const level = specificity(range);
    if (level >= 0 && (best === null || level > specificity(best))) best = range;
  }
  return best === null ? null : { q: best.q, order: best.order };
}

export function chooseFormat(field: RenderFormat | undefined, accept: string | undefined): RenderFormat | null {
  if (field !== undefined) return field;
  if (accept === undefined || accept.trim() === '') return 'png';
  const ranges = parseAccept(accept);
  let chosen: { format: RenderFormat; q: number; order: number } | null = null;
  for (const format of RENDER_FORMATS) {
    const match = quality(RENDER_CONTENT_TYPES[format], ranges);
    if (match === null || match.q <= 0) continue;
    if (chosen === null || match.q > chosen.q || (match.q === chosen.q && match.order < chosen.order))
      chosen = { format, ...match };
  }
  return chosen?.format ?? null;
}

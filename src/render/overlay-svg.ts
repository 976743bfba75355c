/**
 * The overlay as one SVG document (docs/spec.md §11): boxes, `edges` as lines, each keypoint's `level`
 * ellipse as an outline and its mean as a filled dot, coloured by relative rmse, with a legend.
 * Every number is written exactly as predict returns it, so the drawing and the JSON cannot drift.
 */
import { relativeRmse, scalePosition, uncertaintyColour, UNCERTAINTY_STOPS } from './uncertainty-colour.js';

export interface DrawnKeypoint {
  name: string;
  x: number;
  y: number;
  covariance: readonly (readonly number[])[];
  ellipse: { level: number; semiMajor: number; semiMinor: number; angle: number };
  rmse: number;
}

export interface DrawnInstance {
  box: { x: number; y: number; width: number; height: number };
  keypoints: readonly DrawnKeypoint[];
  views?: readonly { mirrored: boolean; keypoints: readonly DrawnKeypoint[] }[];
}

export interface OverlayDrawing {
  instances: readonly DrawnInstance[];
  /** Pairs of keypoint indices joined by a line (the manifest's `edges`). */
  edges: readonly (readonly [number, number])[];
  /** The manifest's `trained`: a picture from demonstration weights says so in its legend. */
  trained: boolean;
}

export interface OverlayOptions extends OverlayDrawing {
  width: number;
  height: number;
  /** An image to draw under the overlay (the SVG format embeds the input this way). */
  background?: { mimeType: string; bytes: Buffer };
}

/** Strokes and dots grow with the image so that they stay visible on large photos. */
export function strokeUnit(width: number, height: number): number {
  return Math.max(1, Math.min(width, height) / 480);
}

/** Dot radius in units; large enough that the pixel holding the mean is always fully inside the fill. */
export const DOT_RADIUS_UNITS = 3;
const LEGEND_WIDTH_UNITS = 200;
const LEGEND_HEIGHT_UNITS = 62;
const LEGEND_MARGIN_UNITS = 8;

/** Where the legend sits (bottom-left), or null when the image is too small to spare the room. */
export function legendRect(width: number, height: number): { x: number; y: number; width: number; height: number } | null {
  const unit = strokeUnit(width, height);
  const legendWidth = LEGEND_WIDTH_UNITS * unit;
  const legendHeight = LEGEND_HEIGHT_UNITS * unit;
  const margin = LEGEND_MARGIN_UNITS * unit;
  if (legendWidth + 2 * margin > 0.6 * width || legendHeight + 2 * margin > 0.3 * height) return null;
  return { x: margin, y: height - margin - legendHeight, width: legendWidth, height: legendHeight };
}

const escapeXml = (text: string) =>
  text.replace(/[<>&"']/g, (character) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[character]};`);

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : String(value));

function hoverText(keypoint: DrawnKeypoint, relative: number, view?: string): string {
  const [[sxx, sxy], [, syy]] = keypoint.covariance as [[number, number], [number, number]];
  return [
    view === undefined ? keypoint.name : `${keypoint.name} (${view} view)`,
    `x ${fixed(keypoint.x, 2)}, y ${fixed(keypoint.y, 2)} px`,
    `rmse ${fixed(keypoint.rmse, 2)} px (${fixed(100 * relative, 2)}% of the box diagonal)`,
    `covariance [[${fixed(sxx, 2)}, ${fixed(sxy, 2)}], [${fixed(sxy, 2)}, ${fixed(syy, 2)}]] px²`,
  ].join('\n');
}

function ellipseElement(keypoint: DrawnKeypoint, attributes: string): string {
  const { x, y, ellipse } = keypoint;
  return `<ellipse cx="${x}" cy="${y}" rx="${ellipse.semiMajor}" ry="${ellipse.semiMinor}" transform="rotate(${ellipse.angle} ${x} ${y})" ${attributes}`;
}

function legend(width: number, height: number, level: number | undefined, trained: boolean): string {
  const rect = legendRect(width, height);
  if (rect === null) return '';
  const unit = strokeUnit(width, height);
  const textX = rect.x + 8 * unit;
  // Inset further than the text, so the end labels centred on the bar's ends stay inside.
  const barX = rect.x + 16 * unit;
  const barY = rect.y + 20 * unit;
  const barWidth = rect.width - 32 * unit;
  const barHeight = 8 * unit;
  const stops = UNCERTAINTY_STOPS.map(
    (stop) => `<stop offset="${scalePosition(stop.relativeRmse)}" stop-color="${uncertaintyColour(stop.relativeRmse)}"/>`,
  ).join('');
  const labels = UNCERTAINTY_STOPS.map((stop) => {
    const x = barX + scalePosition(stop.relativeRmse) * barWidth;
    return `<text x="${x}" y="${barY + barHeight + 11 * unit}" text-anchor="middle">${100 * stop.relativeRmse}%</text>`;
  }).join('');
  const caption = level === undefined ? '' : `ellipses: ${fixed(100 * level, 0)}%`;
  const untrained = trained ? '' : `<tspan fill="#ffd54f" font-weight="bold">untrained model</tspan>`;
  const separator = caption !== '' && untrained !== '' ? ' · ' : '';
  // Clipped to its box, so the legend never covers more of the image than legendRect says.
  return (
    `<g class="legend" clip-path="url(#legend-clip)" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="${10 * unit}" fill="#fff">` +
    `<title>Colour: each keypoint's rmse (expected distance error) divided by its box's diagonal</title>` +
    `<defs><clipPath id="legend-clip"><rect x="${rect.x}" y="${rect.y}" width="${rect.width}" height="${rect.height}"/></clipPath>` +
    `<linearGradient id="uncertainty-scale">${stops}</linearGradient></defs>` +
    `<rect x="${rect.x}" y="${rect.y}" width="${rect.width}" height="${rect.height}" rx="${4 * unit}" fill="#000" fill-opacity="0.6"/>` +
    `<text x="${textX}" y="${rect.y + 13 * unit}">colour: rmse ÷ box diagonal</text>` +
    `<rect x="${barX}" y="${barY}" width="${barWidth}" height="${barHeight}" fill="url(#uncertainty-scale)"/>` +
    labels +
    `<text x="${textX}" y="${rect.y + 55 * unit}">${escapeXml(caption)}${separator}${untrained}</text>` +
    `</g>`
  );
}

export function overlaySvg(options: OverlayOptions): string {
  const { width, height, instances, edges } = options;
  const unit = strokeUnit(width, height);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
  ];
  if (options.background) {
    const uri = `data:${options.background.mimeType};base64,${options.background.bytes.toString('base64')}`;
    parts.push(`<image class="input" x="0" y="0" width="${width}" height="${height}" preserveAspectRatio="none" href="${uri}"/>`);
  }
  parts.push(legend(width, height, instances[0]?.keypoints[0]?.ellipse.level, options.trained));

  // Layers rather than per-keypoint groups, so no outline is ever drawn over another keypoint's dot.
  const boxes: string[] = [];
  const lines: string[] = [];
  const viewEllipses: string[] = [];
  const ellipses: string[] = [];
  const dots: string[] = [];
  instances.forEach((instance, index) => {
    const { box, keypoints } = instance;
    boxes.push(
      `<rect class="box" data-instance="${index}" x="${box.x}" y="${box.y}" width="${box.width}" height="${box.height}"/>`,
    );
    for (const [a, b] of edges) {
      const from = keypoints[a];
      const to = keypoints[b];
      if (from && to) lines.push(`<line class="edge" x1="${from.x}" y1="${from.y}" x2="${to.x}" y2="${to.y}"/>`);
    }
    for (const view of instance.views ?? []) {
      const label = view.mirrored ? 'mirrored' : 'original';
      for (const keypoint of view.keypoints) {
        const relative = relativeRmse(keypoint.rmse, box);
        viewEllipses.push(
          ellipseElement(
            keypoint,
            `class="view ${label}" data-instance="${index}" stroke="${uncertaintyColour(relative)}"><title>${escapeXml(hoverText(keypoint, relative, label))}</title></ellipse>`,
          ),
        );
      }
    }
    for (const keypoint of keypoints) {
      const relative = relativeRmse(keypoint.rmse, box);
      const colour = uncertaintyColour(relative);
      const title = `<title>${escapeXml(hoverText(keypoint, relative))}</title>`;
      ellipses.push(
        ellipseElement(keypoint, `class="uncertainty" data-instance="${index}" stroke="${colour}">${title}</ellipse>`),
      );
      dots.push(
        `<circle class="mean" data-instance="${index}" cx="${keypoint.x}" cy="${keypoint.y}" r="${DOT_RADIUS_UNITS * unit}" fill="${colour}">${title}</circle>`,
      );
    }
  });
  parts.push(
    `<g class="boxes" fill="none" stroke="#fff" stroke-opacity="0.9" stroke-width="${1.5 * unit}">${boxes.join('')}</g>`,
    `<g class="edges" stroke="#fff" stroke-opacity="0.55" stroke-width="${unit}">${lines.join('')}</g>`,
    `<g class="views" fill="none" stroke-width="${unit}" stroke-dasharray="${3 * unit} ${2 * unit}">${viewEllipses.join('')}</g>`,
    `<g class="ellipses" fill="none" stroke-width="${1.5 * unit}">${ellipses.join('')}</g>`,
    `<g class="means" stroke="#000" stroke-opacity="0.75" stroke-width="${0.75 * unit}">${dots.join('')}</g>`,
    '</svg>',
  );
  return parts.join('');
}

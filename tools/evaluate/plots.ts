/**
 * The report's SVG figures, drawn by hand (three line charts need no plotting library): calibration
 * (paper Fig. 3), coverage, and the cumulative error distribution, one series per compared setting.
 */
import type { CalibrationBin } from './probabilistic-metrics.js';

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  /** Draw as a right-continuous step function (a cumulative distribution) instead of joined markers. */
  step?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  xMax: number;
  yMax: number;
  /** Draw y = x, the line a calibrated model follows. */
  identity?: boolean;
}

const WIDTH = 560;
const HEIGHT = 420;
const MARGIN = { left: 64, right: 150, top: 40, bottom: 52 };
// Colour-blind-safe (Okabe–Ito), one per setting.
const COLOURS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00'];
// Settings often agree exactly (a model whose views agree); distinct dashes keep every series visible on top of another.
const DASHES = ['none', '8 4', '2 3', '12 3 2 3', '4 4'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A round tick step giving about five ticks on [0, max]. */
function tickStep(max: number): number {
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * power).find((step) => step >= raw) ?? 10 * power;
}

function format(value: number): string {
  return Number(value.toPrecision(6)).toString();
}

export function lineChart(options: ChartOptions): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xMax = options.xMax > 0 && Number.isFinite(options.xMax) ? options.xMax : 1;
  const yMax = options.yMax > 0 && Number.isFinite(options.yMax) ? options.yMax : 1;
  const sx = (x: number) => MARGIN.left + (Math.min(x, xMax) / xMax) * plotWidth;
  const sy = (y: number) => MARGIN.top + plotHeight - (Math.min(y, yMax) / yMax) * plotHeight;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left + plotWidth / 2}" y="22" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
  ];
  const xStep = tickStep(xMax);
  for (let i = 0; i * xStep <= xMax * (1 + 1e-9); i++) {
    const x = sx(i * xStep);
    out.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotHeight}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${MARGIN.top + plotHeight + 16}" text-anchor="middle">${format(i * xStep)}</text>`);
  }
  const yStep = tickStep(yMax);
  for (let i = 0; i * yStep <= yMax * (1 + 1e-9); i++) {
    const y = sy(i * yStep);
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotWidth}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${y + 4}" text-anchor="end">${format(i * yStep)}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333"/>`);
  out.push(
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
  );
  out.push(
    `<text transform="translate(16 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  if (options.identity) {
    const end = Math.min(xMax, yMax);
    out.push(
      `<line class="identity" x1="${sx(0)}" y1="${sy(0)}" x2="${sx(end)}" y2="${sy(end)}" stroke="#777" stroke-dasharray="5 4"/>`,
    );
  }
  options.series.forEach((series, index) => {
    const colour = COLOURS[index % COLOURS.length]!;
    const dash = DASHES[index % DASHES.length]!;
    const name = escapeXml(series.name);
    if (series.step) {
      let d = `M ${sx(0)} ${sy(0)}`;
      for (const [x, y] of series.points) d += ` H ${sx(x)} V ${sy(y)}`;
      d += ` H ${sx(xMax)}`;
      out.push(
        `<path class="series" data-name="${name}" d="${d}" fill="none" stroke="${colour}" stroke-width="2" stroke-dasharray="${dash}"/>`,
      );
    } else {
      const coordinates = series.points.map(([x, y]) => `${sx(x)},${sy(y)}`).join(' ');
      out.push(
        `<polyline class="series" data-name="${name}" points="${coordinates}" fill="none" stroke="${colour}" stroke-width="2" stroke-dasharray="${dash}"/>`,
      );
      for (const [x, y] of series.points) out.push(`<circle cx="${sx(x)}" cy="${sy(y)}" r="3" fill="${colour}"/>`);
    }
    const legendY = MARGIN.top + 14 + index * 18;
    const legendX = MARGIN.left + plotWidth + 12;
    out.push(
      `<line x1="${legendX}" y1="${legendY - 4}" x2="${legendX + 20}" y2="${legendY - 4}" stroke="${colour}" stroke-width="2" stroke-dasharray="${dash}"/>`,
    );
    out.push(`<text x="${legendX + 26}" y="${legendY}">${name}</text>`);
  });
  if (options.identity) {
    const legendY = MARGIN.top + 14 + options.series.length * 18;
    const legendX = MARGIN.left + plotWidth + 12;
    out.push(
      `<line x1="${legendX}" y1="${legendY - 4}" x2="${legendX + 20}" y2="${legendY - 4}" stroke="#777" stroke-dasharray="5 4"/>`,
    );
    out.push(`<text x="${legendX + 26}" y="${legendY}">ideal (y = x)</text>`);
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export function calibrationPlot(bins: Readonly<Record<string, readonly CalibrationBin[]>>): string {
  const series = Object.entries(bins).map(([name, list]) => ({
    name,
    points: list.map((bin) => [bin.predictedRmse, bin.empiricalRmse] as const),
  }));
  const largest = Math.max(...series.flatMap((s) => s.points.flatMap(([x, y]) => [x, y])));
  return lineChart({
    title: 'Calibration: predicted against empirical rmse per bin',
    xLabel: 'predicted rmse √(mean trace Σ), px',
    yLabel: 'empirical rmse √(mean ‖g − μ‖²), px',
    series,
    xMax: largest * 1.05,
    yMax: largest * 1.05,
    identity: true,
  });
}

export function coveragePlot(coverage: Readonly<Record<string, Readonly<Record<string, number>>>>): string {
  const series = Object.entries(coverage).map(([name, levels]) => ({
    name,
    points: Object.entries(levels).map(([level, fraction]) => [Number(level), fraction] as const),
  }));
  return lineChart({
    title: 'Coverage: ground truths inside the level-p ellipse',
    xLabel: 'nominal level p',
    yLabel: 'empirical fraction inside',
    series,
    xMax: 1,
    yMax: 1,
    identity: true,
  });
}

/** Fraction of errors ≤ x, as a step function from the sorted errors, up to xMax. */
export function cumulativeErrorPlot(errors: Readonly<Record<string, readonly number[]>>, xLabel: string, xMax: number): string {
  const series = Object.entries(errors).map(([name, list]) => {
    const sorted = [...list].sort((a, b) => a - b);
    return { name, step: true, points: sorted.map((error, i) => [error, (i + 1) / sorted.length] as const) };
  });
  return lineChart({ title: 'Cumulative error distribution', xLabel, yLabel: 'fraction with error ≤ x', series, xMax, yMax: 1 });
}

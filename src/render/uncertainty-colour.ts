/**
 * Colour for a keypoint's uncertainty: its rmse relative to the box diagonal (the crop side at scale 1),
 * so a face 100 px wide and one 1000 px wide read alike. Interpolated in log(relative rmse) because
 * useful values span more than a decade; clamped at both ends.
 */

export interface ColourStop {
  /** rmse / box diagonal at which the colour is exactly `rgb`. */
  relativeRmse: number;
  rgb: readonly [number, number, number];
}

/** Green (sharp) through yellow to red (vague): ColorBrewer RdYlGn, reversed, one stop per doubling. */
export const UNCERTAINTY_STOPS = [
  { relativeRmse: 0.005, rgb: [26, 150, 65] },
  { relativeRmse: 0.01, rgb: [166, 217, 106] },
  { relativeRmse: 0.02, rgb: [255, 255, 191] },
  { relativeRmse: 0.04, rgb: [253, 174, 97] },
  { relativeRmse: 0.08, rgb: [215, 25, 28] },
] as const satisfies readonly ColourStop[];

const [FIRST_STOP, ...LATER_STOPS] = UNCERTAINTY_STOPS;
const LAST_STOP: ColourStop = LATER_STOPS[LATER_STOPS.length - 1] ?? FIRST_STOP;

export function relativeRmse(rmse: number, box: { width: number; height: number }): number {
  return rmse / Math.hypot(box.width, box.height);
}

/** Where a relative rmse sits along the scale, 0 at the first stop and 1 at the last (log axis, clamped). */
export function scalePosition(relative: number): number {
  const position = Math.log(relative / FIRST_STOP.relativeRmse) / Math.log(LAST_STOP.relativeRmse / FIRST_STOP.relativeRmse);
  return Number.isNaN(position) ? 0 : Math.min(1, Math.max(0, position));
}

export function uncertaintyRgb(relative: number): [number, number, number] {
  if (!(relative > FIRST_STOP.relativeRmse)) return [...FIRST_STOP.rgb];
  let low: ColourStop = FIRST_STOP;
  for (const high of LATER_STOPS) {
    if (relative < high.relativeRmse) {
      const t = Math.log(relative / low.relativeRmse) / Math.log(high.relativeRmse / low.relativeRmse);
      const mix = (from: number, to: number) => Math.round(from + t * (to - from));
      return [mix(low.rgb[0], high.rgb[0]), mix(low.rgb[1], high.rgb[1]), mix(low.rgb[2], high.rgb[2])];
    }
    low = high;
  }
  return [...LAST_STOP.rgb];
}

export function hexColour([red, green, blue]: readonly [number, number, number]): string {
  return `#${[red, green, blue].map((value) => value.toString(16).padStart(2, '0')).join('')}`;
}

export function uncertaintyColour(relative: number): string {
  return hexColour(uncertaintyRgb(relative));
}

// Lines that join WFLW's 98 landmarks into a face drawing (docs/spec.md §6 `edges`): the contour and the
// nose as open chains, brows, eyes and lips as closed loops. The pupils (96, 97) stand alone.
function chain(first: number, last: number): [number, number][] {
  const pairs: [number, number][] = [];
  for (let index = first; index < last; index++) pairs.push([index, index + 1]);
  return pairs;
}

function loop(first: number, last: number): [number, number][] {
  return [...chain(first, last), [last, first]];
}

/** Index ranges from WFLW's annotation order (see WFLW_KEYPOINT_NAMES). */
export const WFLW_EDGE_GROUPS = {
  contour: chain(0, 32),
  rightBrow: loop(33, 41),
  leftBrow: loop(42, 50),
  noseBridge: chain(51, 54),
  // The bridge's tip meets the middle of the nostril line.
  noseBase: [...chain(55, 59), [54, 57]] as [number, number][],
  rightEye: loop(60, 67),
  leftEye: loop(68, 75),
  mouthOuter: loop(76, 87),
  mouthInner: loop(88, 95),
} as const;

export function wflwEdges(): [number, number][] {
  return Object.values(WFLW_EDGE_GROUPS).flatMap((group) => group.map(([a, b]): [number, number] => [a, b]));
}

/** Pose keypoint measures (docs/spec.md §10): PCK with the box diagonal as normalizer, and COCO's OKS. */

/** Fraction of keypoints with distance ≤ α·normalizer (each keypoint carries its own normalizer). */
export function percentCorrect(distances: readonly number[], normalizers: readonly number[], alpha: number): number {
  if (distances.length === 0 || distances.length !== normalizers.length) {
    throw new RangeError(
      `need as many normalizers as distances (at least one), got ${distances.length} and ${normalizers.length}`,
    );
  }
  let hits = 0;
  distances.forEach((distance, i) => {
    if (distance <= alpha * normalizers[i]!) hits++;
  });
  return hits / distances.length;
}

/**
 * OKS = Σᵢ exp(−dᵢ²/(2 s² kᵢ²))·[vᵢ > 0] / Σᵢ [vᵢ > 0] with kᵢ = 2σᵢ and s² the object's area, as COCO
 * defines it.
 */
export function objectKeypointSimilarity(
  squaredDistances: readonly number[],
  labelled: readonly boolean[],
  sigmas: readonly number[],
  area: number,
): number {
  if (squaredDistances.length !== labelled.length || labelled.length !== sigmas.length) {
    throw new RangeError(
      `distances, labels and sigmas differ in length: ${squaredDistances.length}, ${labelled.length}, ${sigmas.length}`,
    );
  }
  if (!(area > 0)) throw new RangeError(`area must be positive, got ${area}`);
  let sum = 0;
  let count = 0;
  labelled.forEach((isLabelled, i) => {
    if (!isLabelled) return;
    const k = 2 * sigmas[i]!;
    sum += Math.exp(-squaredDistances[i]! / (2 * area * k * k));
    count++;
  });
  if (count === 0) throw new RangeError('no labelled keypoint');
  return sum / count;
}

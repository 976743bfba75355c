// The manifest.json shape of SPEC §6, as this module writes it. The loader
// validates manifests with its own schema; this type only keeps the writers
// (default model, test fixtures) honest.

export type CropPadding = 'reflect' | 'edge' | 'constant';
export type Parameterization = 'nu' | 'mu';

export interface ManifestKeypoint {
  name: string;
  /** m_k, input pixels. */
  mean: [number, number];
  /** H_k, symmetric, applied as yₙ = H_k (q − m_k). */
  whitening: [[number, number], [number, number]];
}

export interface ModelManifestJson {
  name: string;
  version: string;
  description: string;
  trained: boolean;
  file: string;
  input: { name: string; size: number; mean: [number, number, number]; std: [number, number, number] };
  output: { name: string };
  crop: { scale: number; padding: CropPadding };
  distribution: { delta: number; theta: number; eigenvalueOffset: number; parameterization: Parameterization };
  keypoints: ManifestKeypoint[];
  flipPairs: [number, number][];
}

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/**
 * Pretty JSON with numeric arrays kept on one line, so a 98-keypoint manifest
 * reads as one line per keypoint instead of fifteen.
 */
export function formatManifest(manifest: ModelManifestJson): string {
  const text = JSON.stringify(manifest, null, 2)
    .replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (_, inner: string) => `[${inner.replace(/,\s*/g, ', ')}]`)
    .replace(/\[\s*(\[[^\[\]]*\](?:,\s*\[[^\[\]]*\])*)\s*\]/g, (_, inner: string) => `[${inner.replace(/\],\s*\[/g, '], [')}]`)
    .replace(/\{\s*("name": "[^"]*",)\s*("mean": \[[^\]]*\],)\s*("whitening": \[\[[^\]]*\], \[[^\]]*\]\])\s*\}/g, '{ $1 $2 $3 }');
  return `${text}\n`;
}

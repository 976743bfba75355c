import type { Manifest } from './manifest.js';

/**
 * The manifest as the writers here (default model, test fixtures) produce it: the loader's schema
 * type, with every keypoint's normalization spelled out rather than left to the defaults.
 */
export type ManifestKeypoint = Required<Manifest['keypoints'][number]>;
export type ModelManifestJson = Omit<Manifest, 'keypoints'> & { keypoints: ManifestKeypoint[] };
export type CropPadding = Manifest['crop']['padding'];
export type Parameterization = Manifest['distribution']['parameterization'];

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/**
 * Pretty JSON with numeric arrays kept on one line, so a 98-keypoint manifest
 * reads as one line per keypoint instead of fifteen.
 */
export function formatManifest(manifest: ModelManifestJson): string {
  const text = JSON.stringify(manifest, null, 2)
    .replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (_, inner: string) => `[${inner.replace(/,\s*/g, ', ')}]`)
    .replace(/\[\s*(\[[^[\]]*\](?:,\s*\[[^[\]]*\])*)\s*\]/g, (_, inner: string) => `[${inner.replace(/\],\s*\[/g, '], [')}]`)
    .replace(/\{\s*("name": "[^"]*",)\s*("mean": \[[^\]]*\],)\s*("whitening": \[\[[^\]]*\], \[[^\]]*\]\])\s*\}/g, '{ $1 $2 $3 }');
  return `${text}\n`;
}

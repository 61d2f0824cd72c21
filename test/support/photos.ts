// Real photographs (OpenCV's sample photos from Debian's opencv-doc; held-out photos 7-24 also from
// python3-skimage and python-matplotlib-data) as calibration and held-out sets:
// scripts/fixtures/photo_crops.py writes PNG crops and OpenCV's normalised arrays of them.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Tensor } from '../../src/ir/tensor.js';
import { IMAGENET_MEAN, IMAGENET_STD, readImageSetArrays } from './calibration-images.js';
import { REPO_ROOT } from './corpus.js';

/** How many photos the held-out set has (6 from opencv-doc, then 18 from python3-skimage / python-matplotlib-data / opencv-doc). */
export const HELD_OUT_PHOTOS = 24;

export interface PhotoSetOptions {
  /**
   * calibration: random crops of 19 photos; held-out: centre crops of up to 24 other photos (the
   * first 6 OpenCV's, as before; more photos measure an SNR more closely, see HELD_OUT_PHOTOS)
   */
  set: 'calibration' | 'held-out';
  count: number;
  /** model input height x width */
  size: [number, number];
  seed?: number;
  mean?: number[];
  std?: number[];
}

/** Writes OUT/images (256x256 PNG crops), OUT/npy (OpenCV's NHWC arrays) and OUT/index.json; returns the arrays in file order. */
export function makePhotoSet(out: string, o: PhotoSetOptions): Tensor[] {
  const args = ['--out', out, '--set', o.set, '--count', String(o.count), '--size', o.size.join('x'), '--seed', String(o.seed ?? 11), '--mean', (o.mean ?? IMAGENET_MEAN).join(','), '--std', (o.std ?? IMAGENET_STD).join(',')];
  execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/photo_crops.py'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  return readImageSetArrays(out);
}

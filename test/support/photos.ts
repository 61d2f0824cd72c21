// Real photographs (OpenCV's sample photos from Debian's opencv-doc; held-out photos 7-24 also from
// python3-skimage and python-matplotlib-data) as calibration and held-out sets:
// scripts/fixtures/photo_crops.py writes PNG crops and OpenCV's normalised arrays of them.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Tensor } from '../../src/ir/tensor.js';
import { permuteTensor } from '../../src/passes/layout.js';
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

/** The corpus' TinyNN int8 MobileNet-v2 (trained weights; the tests dequantize it and quantize it again). */
export const TRAINED_MOBILENET_V2 = 'tflite/tinynn-mobilenet-v2-int8-from-pytorch/mobilenet_v2_quantized_1x3x224x224.tflite';

/** makePhotoSet at 224x224 into DIR/SET, ImageNet-normalised by OpenCV, as NCHW (the trained MobileNet-v2's input). */
export function nchwPhotoSet(dir: string, set: 'calibration' | 'held-out', count: number): Tensor[] {
  return makePhotoSet(join(dir, set), { set, count, size: [224, 224] }).map((t) => permuteTensor(t, [0, 3, 1, 2]));
}

/** Index of the largest value (a classifier's top-1). */
export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

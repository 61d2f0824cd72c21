// Synthetic photo-like images and OpenCV's model inputs made of them
// (scripts/fixtures/calibration_images.py, run with Debian's python and cv2).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../../src/formats/numpy/index.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { REPO_ROOT } from './corpus.js';

export const IMAGENET_MEAN = [123.675, 116.28, 103.53];
export const IMAGENET_STD = [58.395, 57.12, 57.375];

export interface ImageSetOptions {
  count: number;
  /** model input height x width */
  size: [number, number];
  seed: number;
  mean?: number[];
  std?: number[];
  /** 'all' (every format in turn) or a comma-separated list, e.g. 'png-rgb' */
  formats?: string;
  /** existing images to make OpenCV's arrays of too */
  also?: string[];
}

/** Writes OUT/images, OUT/npy (OpenCV's NHWC arrays) and OUT/index.json. */
export function makeCalibrationImages(out: string, o: ImageSetOptions): void {
  const args = ['--out', out, '--count', String(o.count), '--size', o.size.join('x'), '--seed', String(o.seed), '--mean', (o.mean ?? IMAGENET_MEAN).join(','), '--std', (o.std ?? IMAGENET_STD).join(','), '--formats', o.formats ?? 'all'];
  for (const f of o.also ?? []) args.push('--also', f);
  execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/calibration_images.py'), ...args], { stdio: 'ignore' });
}

/** OpenCV's arrays of a set, in file-name order. */
export function readImageSetArrays(out: string): Tensor[] {
  return readdirSync(join(out, 'npy'))
    .sort()
    .map((f) => readNpy(readFileSync(join(out, 'npy', f))));
}

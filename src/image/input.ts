// An image as a model input: resized to the input's height and width (bilinear, half-pixel
// centres, edges clamped: OpenCV's INTER_LINEAR and TF's resize without antialiasing), gray
// (ITU-R 601 luma) for a 1-channel input, normalised per channel as (pixel - mean) / std with
// pixels in 0..255, laid out NHWC or NCHW as the input is.
import { UsageError } from '../ir/errors.js';
import { Tensor } from '../ir/tensor.js';
import type { RgbImage } from './rgb-image.js';

export interface ImageInputOptions {
  /** per-channel mean, pixel units (one value for all channels, or one per channel) */
  mean: readonly number[];
  /** per-channel standard deviation, pixel units */
  std: readonly number[];
}

/** Where height, width and channels sit in a rank-4 input shape (batch first). */
export function imageLayout(shape: readonly (number | string | null | undefined)[], what: string): { layout: 'NHWC' | 'NCHW'; height: number; width: number; channels: number } {
  const fixed = (d: unknown) => (typeof d === 'number' && d > 0 ? d : undefined);
  if (shape.length !== 4) throw new UsageError(`${what} has shape [${shape.join(', ')}]: calibration images need a rank-4 image input (batch, height, width, channels)`);
  const last = fixed(shape[3]);
  const second = fixed(shape[1]);
  const nhwc = last === 1 || last === 3;
  const layout = nhwc ? 'NHWC' : second === 1 || second === 3 ? 'NCHW' : undefined;
  const [h, w, c] = layout === 'NHWC' ? [shape[1], shape[2], shape[3]] : [shape[2], shape[3], shape[1]];
  if (!layout || !fixed(h) || !fixed(w)) throw new UsageError(`${what} has shape [${shape.map((d) => d ?? '?').join(', ')}]: calibration images need a fixed height and width and 1 or 3 channels`);
  return { layout, height: fixed(h)!, width: fixed(w)!, channels: fixed(c)! };
}

/** Bilinear resize of an RGB image to float32 H x W x 3 (values still 0..255). */
export function resizeBilinear(img: RgbImage, height: number, width: number): Float32Array {
  const { width: W, height: H, data } = img;
  const out = new Float32Array(height * width * 3);
  const taps = (size: number, outSize: number) => {
    const scale = size / outSize;
    const i0 = new Int32Array(outSize);
    const i1 = new Int32Array(outSize);
    const f = new Float32Array(outSize);
    for (let d = 0; d < outSize; d++) {
      let s = (d + 0.5) * scale - 0.5;
      let i = Math.floor(s);
      s -= i;
      if (i < 0) (i = 0), (s = 0);
      if (i >= size - 1) (i = size - 1), (s = 0);
      i0[d] = i;
      i1[d] = Math.min(i + 1, size - 1);
      f[d] = s;
    }
    return { i0, i1, f };
  };
  const ys = taps(H, height);
  const xs = taps(W, width);
  for (let y = 0; y < height; y++) {
    const r0 = ys.i0[y]! * W;
    const r1 = ys.i1[y]! * W;
    const fy = ys.f[y]!;
    for (let x = 0; x < width; x++) {
      const c0 = xs.i0[x]!;
      const c1 = xs.i1[x]!;
      const fx = xs.f[x]!;
      for (let c = 0; c < 3; c++) {
        const top = data[(r0 + c0) * 3 + c]! * (1 - fx) + data[(r0 + c1) * 3 + c]! * fx;
        const bottom = data[(r1 + c0) * 3 + c]! * (1 - fx) + data[(r1 + c1) * 3 + c]! * fx;
        out[(y * width + x) * 3 + c] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

/** The image as one sample for an input of `shape` (batch 1). */
export function imageToInput(img: RgbImage, shape: readonly (number | string | null | undefined)[], options: ImageInputOptions, what = 'the input'): Tensor {
  const { layout, height, width, channels } = imageLayout(shape, what);
  for (const [name, v] of [['mean', options.mean], ['std', options.std]] as const) {
    if (v.length !== 1 && v.length !== channels) throw new UsageError(`--${name} gives ${v.length} values; ${what} has ${channels} channel(s): give 1 or ${channels}`);
  }
  if (options.std.some((s) => !(s !== 0 && Number.isFinite(s)))) throw new UsageError('--std values must be finite and non-zero');
  const rgb = resizeBilinear(img, height, width);
  const mean = (c: number) => options.mean[options.mean.length === 1 ? 0 : c]!;
  const std = (c: number) => options.std[options.std.length === 1 ? 0 : c]!;
  const n = height * width;
  const out = new Float32Array(n * channels);
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < channels; c++) {
      const v = channels === 1 ? 0.299 * rgb[p * 3]! + 0.587 * rgb[p * 3 + 1]! + 0.114 * rgb[p * 3 + 2]! : rgb[p * 3 + c]!;
      out[layout === 'NHWC' ? p * channels + c : c * n + p] = (v - mean(c)) / std(c);
    }
  }
  return Tensor.float32(layout === 'NHWC' ? [1, height, width, channels] : [1, channels, height, width], out);
}

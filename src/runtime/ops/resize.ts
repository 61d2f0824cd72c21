// Resize (opset 10-18) and the deprecated Upsample (7-9). Nearest, linear and cubic are
// all separable, so an N-d resize runs as one 1-d resample per axis that changes: nearest
// is an index gather (any dtype), linear/cubic a weighted sum of 2/4 taps in float64.
import { isFloatDType } from '../../ir/dtypes.js';
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { resizeDefs, type CoordMode, type NearestMode, type ResizeAttrs } from '../../ir/ops/index.js';
import { shapeSize, Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { need, normAxes, readInts, readNumbers, tensorFromNumbers } from './args.js';
import { gatherDims } from './gather-dims.js';

/** tf_crop_and_resize's crop of one axis: [start, end] as fractions of the input, and the output size. */
interface Crop {
  start: number;
  end: number;
  outSize: number;
}

/**
 * Source coordinate of output index `o` on an axis resized from `inSize` by `scale`. As in
 * the ONNX reference, the resized length is inSize*scale before flooring (it differs from
 * the output size when downsampling by a scale that does not divide the size), except for
 * tf_crop_and_resize, which spreads the integer output size over the crop.
 */
function sourceCoord(coord: CoordMode, o: number, scale: number, inSize: number, crop?: Crop): number {
  const outSize = inSize * scale;
  switch (coord) {
    case 'tf_crop_and_resize': {
      const { start, end, outSize: n } = crop!;
      if (n === 1) return 0.5 * (start + end) * (inSize - 1);
      return start * (inSize - 1) + (o * (end - start) * (inSize - 1)) / (n - 1);
    }
    case 'half_pixel':
      return (o + 0.5) / scale - 0.5;
    case 'pytorch_half_pixel':
      return outSize > 1 ? (o + 0.5) / scale - 0.5 : 0;
    case 'align_corners':
      return outSize === 1 ? 0 : (o * (inSize - 1)) / (outSize - 1);
    case 'asymmetric':
      return o / scale;
    case 'tf_half_pixel_for_nn':
      return (o + 0.5) / scale;
  }
}

function nearestIndex(mode: NearestMode, x: number, scale: number): number {
  switch (mode) {
    case 'round_prefer_floor':
      return x === Math.floor(x) + 0.5 ? Math.floor(x) : Math.round(x);
    case 'round_prefer_ceil':
      return Math.round(x);
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
    case 'simple':
      return scale < 1 ? Math.ceil(x) : Math.floor(x);
  }
}

function cubicWeights(t: number, a: number): [number, number, number, number] {
  const w = (d: number) => {
    const z = Math.abs(d);
    if (z <= 1) return ((a + 2) * z - (a + 3)) * z * z + 1;
    if (z < 2) return ((a * z - 5 * a) * z + 8 * a) * z - 4 * a;
    return 0;
  };
  return [w(t + 1), w(t), w(1 - t), w(2 - t)];
}

/** Resample axis `d` of float64 data with per-output taps (indices and weights). */
function resampleAxis(data: Float64Array, shape: number[], d: number, outSize: number, taps: (o: number) => [number[], number[]]): Float64Array {
  const outer = shapeSize(shape.slice(0, d));
  const inSize = shape[d]!;
  const inner = shapeSize(shape.slice(d + 1));
  const out = new Float64Array(outer * outSize * inner);
  for (let o = 0; o < outSize; o++) {
    const [idx, w] = taps(o);
    for (let u = 0; u < outer; u++) {
      const dst = (u * outSize + o) * inner;
      for (let k = 0; k < idx.length; k++) {
        const src = (u * inSize + idx[k]!) * inner;
        const wk = w[k]!;
        if (wk === 0) continue;
        for (let i = 0; i < inner; i++) out[dst + i] += wk * data[src + i]!;
      }
    }
  }
  shape[d] = outSize;
  return out;
}

export function resize(x: Tensor, a: ResizeAttrs, scalesIn: number[] | undefined, sizesIn: number[] | undefined, roiIn?: number[]): Tensor {
  const r = x.rank;
  const axes = a.axes ? normAxes(a.axes, r, 'Resize axes') : x.shape.map((_, i) => i);
  const scales = new Array<number>(r).fill(1);
  const sizes = [...x.shape];
  if (sizesIn && sizesIn.length) {
    if (sizesIn.length !== axes.length) throw new ShapeError(`Resize: ${sizesIn.length} sizes for ${axes.length} axes`);
    axes.forEach((ax, k) => {
      sizes[ax] = sizesIn[k]!;
      scales[ax] = sizesIn[k]! / x.shape[ax]!;
    });
  } else if (scalesIn && scalesIn.length) {
    if (scalesIn.length !== axes.length) throw new ShapeError(`Resize: ${scalesIn.length} scales for ${axes.length} axes`);
    axes.forEach((ax, k) => {
      const s = scalesIn[k]!;
      if (!(s > 0)) throw new ShapeError(`Resize: scale ${s} must be positive`);
      scales[ax] = s;
      sizes[ax] = Math.floor(x.shape[ax]! * s);
    });
  } else {
    throw new ShapeError('Resize needs scales or sizes');
  }
  if (sizes.some((s) => s < 0)) throw new ShapeError(`Resize: negative output size [${sizes.join(', ')}]`);
  // roi is [starts..., ends...] over `axes`; only tf_crop_and_resize reads it.
  const crops: Crop[] = x.shape.map((_, i) => ({ start: 0, end: 1, outSize: sizes[i]! }));
  if (a.coord === 'tf_crop_and_resize') {
    if (!roiIn || roiIn.length !== 2 * axes.length) throw new ShapeError(`Resize tf_crop_and_resize needs roi with ${2 * axes.length} values, got ${roiIn?.length ?? 0}`);
    axes.forEach((ax, k) => {
      crops[ax]!.start = roiIn[k]!;
      crops[ax]!.end = roiIn[k + axes.length]!;
    });
  }
  // An axis left alone is the identity except where the coordinate transform shifts it.
  const moving = x.shape.map(
    (d, i) => sizes[i] !== d || scales[i] !== 1 || (a.coord === 'tf_half_pixel_for_nn' && a.mode === 'nearest') || (a.coord === 'tf_crop_and_resize' && (crops[i]!.start !== 0 || crops[i]!.end !== 1)),
  );
  if (shapeSize(sizes) === 0 || x.size === 0) return Tensor.zeros(x.dtype, sizes);
  const coordOf = (d: number, o: number) => sourceCoord(a.coord, o, scales[d]!, x.shape[d]!, crops[d]);
  // Outputs whose source falls outside the input on some axis take extrapolation_value, as
  // TF's CropAndResize does; the resample computes them from clamped taps and this overwrites them.
  const outside = x.shape.map((inSize, d) => {
    const m = new Uint8Array(sizes[d]!);
    if (a.coord === 'tf_crop_and_resize' && moving[d]) {
      for (let o = 0; o < m.length; o++) {
        const c = coordOf(d, o);
        if (c < 0 || c > inSize - 1) m[o] = 1;
      }
    }
    return m;
  });
  const extrapolate = (t: Tensor): Tensor => (outside.some((m) => m.includes(1)) ? fillOutside(t, outside, a.extrapolation) : t);

  if (a.mode === 'nearest') {
    const idx = x.shape.map((inSize, d) => {
      const list = new Int32Array(sizes[d]!);
      for (let o = 0; o < list.length; o++) {
        if (!moving[d]) list[o] = o;
        else list[o] = Math.min(Math.max(nearestIndex(a.nearest, coordOf(d, o), scales[d]!), 0), inSize - 1);
      }
      return list;
    });
    return extrapolate(gatherDims(x, idx));
  }

  if (!isFloatDType(x.dtype)) throw new UnsupportedError(`Resize ${a.mode} on ${x.dtype}`, 'only float inputs are interpolated');
  let data: Float64Array = Float64Array.from(x.toNumbers());
  const shape = [...x.shape];
  for (let d = 0; d < r; d++) {
    if (!moving[d]) continue;
    const inSize = x.shape[d]!;
    const clampIdx = (i: number) => Math.min(Math.max(i, 0), inSize - 1);
    if (a.mode === 'linear') {
      data = resampleAxis(data, shape, d, sizes[d]!, (o) => {
        const c = Math.min(Math.max(coordOf(d, o), 0), inSize - 1);
        const i0 = Math.floor(c);
        const t = c - i0;
        return [[i0, clampIdx(i0 + 1)], [1 - t, t]];
      });
    } else {
      data = resampleAxis(data, shape, d, sizes[d]!, (o) => {
        const c = coordOf(d, o);
        const i0 = Math.floor(c);
        const w = cubicWeights(c - i0, a.cubicA);
        const raw = [i0 - 1, i0, i0 + 1, i0 + 2];
        if (a.excludeOutside) {
          // taps outside the input get weight 0 and the rest are renormalised
          for (let k = 0; k < 4; k++) if (raw[k]! < 0 || raw[k]! >= inSize) w[k] = 0;
          const sum = w[0] + w[1] + w[2] + w[3];
          for (let k = 0; k < 4; k++) w[k] = w[k]! / sum;
        }
        return [raw.map(clampIdx), w];
      });
    }
  }
  return extrapolate(tensorFromNumbers(x.dtype, sizes, data));
}

/** `t` with every element whose index is marked in `outside` on some axis set to `value`. */
function fillOutside(t: Tensor, outside: Uint8Array[], value: number): Tensor {
  const v = tensorFromNumbers(t.dtype, [1], [value]).data as ArrayLike<unknown>;
  const data = t.data as unknown as Record<number, unknown>;
  const shape = t.shape;
  const r = shape.length;
  const idx = new Array<number>(r).fill(0);
  for (let i = 0; i < t.size; i++) {
    let out = false;
    for (let d = 0; d < r && !out; d++) out = outside[d]![idx[d]!] === 1;
    if (out) data[i] = v[0];
    for (let d = r - 1; d >= 0 && ++idx[d]! === shape[d]!; d--) idx[d] = 0;
  }
  return t;
}

export const resizeOps: OpTable = {
  Resize: defineOp<ResizeAttrs>({
    attrs: resizeDefs.Resize.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'X');
      const scales = inputs[a.scalesInput] ? readNumbers(inputs[a.scalesInput]!, 'Resize scales') : undefined;
      const sizes = a.scalesInput === 2 && inputs[3] ? readInts(inputs[3], 'Resize sizes') : undefined;
      const roi = a.scalesInput === 2 && inputs[1] ? readNumbers(inputs[1], 'Resize roi') : undefined;
      return [resize(x, a, scales, sizes, roi)];
    },
  }),
  Upsample: defineOp<ResizeAttrs>({
    attrs: resizeDefs.Upsample.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'X');
      const scales = a.scales ?? readNumbers(need(inputs, 1, 'scales'), 'Upsample scales');
      if (scales.length !== x.rank) throw new ShapeError(`Upsample: ${scales.length} scales for rank ${x.rank}`);
      return [resize(x, a, scales, undefined)];
    },
  }),
};

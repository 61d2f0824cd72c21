// GridSample, RoiAlign and MaxUnpool on NCHW data, computed in float64. GridSample follows
// PyTorch's grid_sampler_2d (the op's definition): bilinear and nearest pad the source coordinate,
// bicubic pads each of its 4 x 4 taps. RoiAlign is onnxruntime's (Caffe2's) RoIAlign: samples
// outside [-1, size] count as 0, max mode takes the largest weighted corner of each sample.
import { checkTensorShape } from '../../ir/budget.js';
import { ShapeError, UnsupportedError } from '../../ir/errors.js';
import { samplingDefs, unpooledDim, type GridSampleAttrs, type GridSamplePadding, type MaxUnpoolAttrs, type RoiAlignAttrs } from '../../ir/ops/sampling.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { need, readInts, tensorFromNumbers } from './args.js';

const FLOAT = new Set(['float32', 'float64', 'float16', 'bfloat16']);

function floatsOf(t: Tensor, op: string, what: string): Float64Array {
  if (!FLOAT.has(t.dtype)) throw new UnsupportedError(`${op} on ${t.dtype}`, `${what} must be a float tensor`);
  if (t.dtype === 'float32' || t.dtype === 'float64') return Float64Array.from(t.data as Float32Array | Float64Array);
  return Float64Array.from(t.toNumbers());
}

// ---- GridSample ----

/** A normalised grid coordinate in [-1, 1] as a pixel coordinate of an axis of `size`. */
const unnormalize = (c: number, size: number, align: boolean): number => (align ? ((c + 1) / 2) * (size - 1) : ((c + 1) * size - 1) / 2);

/** Reflect `c` into [lo2 / 2, hi2 / 2] (bounds given doubled, as they may be half-integers). */
function reflect(c: number, lo2: number, hi2: number): number {
  if (lo2 === hi2) return 0;
  const min = lo2 / 2;
  const span = (hi2 - lo2) / 2;
  const d = Math.abs(c - min);
  const extra = d % span;
  const flips = Math.floor(d / span);
  return flips % 2 === 0 ? extra + min : span - extra + min;
}

/** The source coordinate after border / reflection padding (zeros leaves it as is). */
function padCoord(c: number, size: number, padding: GridSamplePadding, align: boolean): number {
  if (padding === 'zeros') return c;
  if (padding === 'reflection') c = align ? reflect(c, 0, 2 * (size - 1)) : reflect(c, -1, 2 * size - 1);
  return Math.min(Math.max(c, 0), size - 1);
}

/** Round half to even (C's nearbyint in the default rounding mode). */
function nearbyint(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const CUBIC_A = -0.75;
const cubicNear = (x: number): number => ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1;
const cubicFar = (x: number): number => ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A;
const cubicWeights = (t: number): [number, number, number, number] => [cubicFar(t + 1), cubicNear(t), cubicNear(1 - t), cubicFar(2 - t)];

export function gridSample(x: Tensor, grid: Tensor, a: GridSampleAttrs): Tensor {
  if (x.rank !== 4) throw new UnsupportedError(`GridSample on a rank-${x.rank} input`, 'only 4-D (N, C, H, W) input is supported');
  if (grid.rank !== 4 || grid.shape[3] !== 2 || grid.shape[0] !== x.shape[0]) throw new ShapeError(`GridSample grid must be [${x.shape[0]}, H_out, W_out, 2] for X [${x.shape.join(', ')}], got [${grid.shape.join(', ')}]`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [, Ho, Wo] = grid.shape as [number, number, number];
  checkTensorShape('float64', [N, C, Ho, Wo], 'GridSample output');
  const out = new Float64Array(N * C * Ho * Wo);
  if (out.length === 0) return tensorFromNumbers(x.dtype, [N, C, Ho, Wo], out);
  const xd = floatsOf(x, 'GridSample', 'X');
  const gd = floatsOf(grid, 'GridSample', 'grid');
  const plane = H * W;
  const outPlane = Ho * Wo;
  const at = (base: number, yi: number, xi: number): number => (yi >= 0 && yi < H && xi >= 0 && xi < W ? xd[base + yi * W + xi]! : 0);
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < outPlane; p++) {
      const g = (n * outPlane + p) * 2;
      let ix = unnormalize(gd[g]!, W, a.alignCorners);
      let iy = unnormalize(gd[g + 1]!, H, a.alignCorners);
      if (a.mode !== 'bicubic') {
        ix = padCoord(ix, W, a.padding, a.alignCorners);
        iy = padCoord(iy, H, a.padding, a.alignCorners);
      }
      if (a.mode === 'nearest') {
        const xi = nearbyint(ix);
        const yi = nearbyint(iy);
        for (let c = 0; c < C; c++) out[(n * C + c) * outPlane + p] = at((n * C + c) * plane, yi, xi);
      } else if (a.mode === 'bilinear') {
        const x0 = Math.floor(ix);
        const y0 = Math.floor(iy);
        const tx = ix - x0;
        const ty = iy - y0;
        for (let c = 0; c < C; c++) {
          const base = (n * C + c) * plane;
          out[(n * C + c) * outPlane + p] =
            at(base, y0, x0) * (1 - tx) * (1 - ty) + at(base, y0, x0 + 1) * tx * (1 - ty) + at(base, y0 + 1, x0) * (1 - tx) * ty + at(base, y0 + 1, x0 + 1) * tx * ty;
        }
      } else {
        const x0 = Math.floor(ix);
        const y0 = Math.floor(iy);
        const wx = cubicWeights(ix - x0);
        const wy = cubicWeights(iy - y0);
        // each tap's coordinate padded on its own (PyTorch's get_value_bounded)
        const xs = [0, 1, 2, 3].map((i) => Math.trunc(padCoord(x0 - 1 + i, W, a.padding, a.alignCorners)));
        const ys = [0, 1, 2, 3].map((j) => Math.trunc(padCoord(y0 - 1 + j, H, a.padding, a.alignCorners)));
        for (let c = 0; c < C; c++) {
          const base = (n * C + c) * plane;
          let v = 0;
          for (let j = 0; j < 4; j++) {
            let row = 0;
            for (let i = 0; i < 4; i++) row += wx[i]! * at(base, ys[j]!, xs[i]!);
            v += wy[j]! * row;
          }
          out[(n * C + c) * outPlane + p] = v;
        }
      }
    }
  }
  return tensorFromNumbers(x.dtype, [N, C, Ho, Wo], out);
}

// ---- RoiAlign ----

interface Sample {
  /** offsets of the four corners within a plane, and their weights */
  o: [number, number, number, number];
  w: [number, number, number, number];
}

const f32 = Math.fround;

/** The bilinear taps of point (y, x) of an H x W plane; all weights 0 outside [-1, H] x [-1, W]. */
function bilinearSample(y: number, x: number, H: number, W: number): Sample {
  if (y < -1 || y > H || x < -1 || x > W) return { o: [0, 0, 0, 0], w: [0, 0, 0, 0] };
  y = Math.max(y, 0);
  x = Math.max(x, 0);
  let y0 = Math.trunc(y);
  let x0 = Math.trunc(x);
  let y1 = y0 + 1;
  let x1 = x0 + 1;
  if (y0 >= H - 1) y = y0 = y1 = H - 1;
  if (x0 >= W - 1) x = x0 = x1 = W - 1;
  const ly = f32(y - y0);
  const lx = f32(x - x0);
  const hy = f32(1 - ly);
  const hx = f32(1 - lx);
  return { o: [y0 * W + x0, y0 * W + x1, y1 * W + x0, y1 * W + x1], w: [f32(hy * hx), f32(hy * lx), f32(ly * hx), f32(ly * lx)] };
}

/**
 * RoiAlign. Box corners, bin sizes and sample positions are computed in float32 steps, as
 * onnxruntime does: a sample can fall exactly on the [-1, size] limit, where float64 would
 * round it to the other side.
 */
export function roiAlign(x: Tensor, rois: Tensor, batchIndices: Tensor, a: RoiAlignAttrs): Tensor {
  if (x.rank !== 4) throw new ShapeError(`RoiAlign X must be [N, C, H, W], got [${x.shape.join(', ')}]`);
  if (rois.rank !== 2 || rois.shape[1] !== 4) throw new ShapeError(`RoiAlign rois must be [num_rois, 4], got [${rois.shape.join(', ')}]`);
  const R = rois.shape[0]!;
  if (batchIndices.rank !== 1 || batchIndices.shape[0] !== R) throw new ShapeError(`RoiAlign batch_indices must be [${R}], got [${batchIndices.shape.join(', ')}]`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const PH = a.outputHeight;
  const PW = a.outputWidth;
  const shape = [R, C, PH, PW];
  checkTensorShape('float64', shape, 'RoiAlign output (output_height x output_width per roi)');
  const out = new Float64Array(shapeSize(shape));
  if (out.length === 0) return tensorFromNumbers(x.dtype, shape, out);
  const xd = floatsOf(x, 'RoiAlign', 'X');
  const rd = floatsOf(rois, 'RoiAlign', 'rois');
  const bi = readInts(batchIndices, 'RoiAlign batch_indices');
  const offset = a.halfPixel ? 0.5 : 0;
  const scale = f32(a.spatialScale);
  const plane = H * W;
  for (let r = 0; r < R; r++) {
    const b = bi[r]!;
    if (!(b >= 0 && b < N)) throw new ShapeError(`RoiAlign batch_indices[${r}] = ${b} is out of range for a batch of ${N}`);
    const [x1, y1, x2, y2] = [0, 1, 2, 3].map((k) => f32(f32(f32(rd[r * 4 + k]!) * scale) - offset)) as [number, number, number, number];
    let rw = f32(x2 - x1);
    let rh = f32(y2 - y1);
    // the legacy mode makes every box at least 1 x 1
    if (!a.halfPixel) {
      rw = Math.max(rw, 1);
      rh = Math.max(rh, 1);
    }
    const binH = f32(rh / PH);
    const binW = f32(rw / PW);
    const gridH = a.samplingRatio > 0 ? a.samplingRatio : Math.ceil(f32(rh / PH));
    const gridW = a.samplingRatio > 0 ? a.samplingRatio : Math.ceil(f32(rw / PW));
    const count = Math.max(gridH * gridW, 1);
    for (let ph = 0; ph < PH; ph++) {
      for (let pw = 0; pw < PW; pw++) {
        const samples: Sample[] = [];
        for (let iy = 0; iy < gridH; iy++) {
          const y = f32(f32(y1 + f32(ph * binH)) + f32(f32(f32(iy + 0.5) * binH) / gridH));
          for (let ix = 0; ix < gridW; ix++) samples.push(bilinearSample(y, f32(f32(x1 + f32(pw * binW)) + f32(f32(f32(ix + 0.5) * binW) / gridW)), H, W));
        }
        for (let c = 0; c < C; c++) {
          const base = (b * C + c) * plane;
          let v = 0;
          if (a.mode === 'avg') {
            for (const s of samples) v += s.w[0] * xd[base + s.o[0]]! + s.w[1] * xd[base + s.o[1]]! + s.w[2] * xd[base + s.o[2]]! + s.w[3] * xd[base + s.o[3]]!;
            v /= count;
          } else {
            let first = true;
            for (const s of samples) {
              const m = Math.max(s.w[0] * xd[base + s.o[0]]!, s.w[1] * xd[base + s.o[1]]!, s.w[2] * xd[base + s.o[2]]!, s.w[3] * xd[base + s.o[3]]!);
              v = first ? m : Math.max(v, m);
              first = false;
            }
          }
          out[((r * C + c) * PH + ph) * PW + pw] = v;
        }
      }
    }
  }
  return tensorFromNumbers(x.dtype, shape, out);
}

// ---- MaxUnpool ----

/**
 * Y.flat[I] = X over the unpooled shape ((in - 1) * stride + kernel - pads); a larger
 * output_shape holds that at its origin, zero beyond (as ONNX's reference and backend case do;
 * the indices are MaxPool's, into the whole (N, C, ...) tensor, flattened).
 */
export function maxUnpool(x: Tensor, indices: Tensor, outputShape: Tensor | undefined, a: MaxUnpoolAttrs): Tensor {
  const k = a.kernelShape.length;
  if (x.rank !== k + 2) throw new ShapeError(`MaxUnpool input [${x.shape.join(', ')}] must have rank ${k + 2} for kernel_shape [${a.kernelShape.join(', ')}]`);
  if (indices.dtype !== 'int64' || indices.shape.length !== x.rank || indices.shape.some((d, i) => d !== x.shape[i])) {
    throw new ShapeError(`MaxUnpool I must be int64 of X's shape [${x.shape.join(', ')}], got ${indices.dtype} [${indices.shape.join(', ')}]`);
  }
  const inferred = [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map((n, i) => unpooledDim(n, a, i))];
  if (inferred.some((d) => d < 0)) throw new ShapeError(`MaxUnpool: the unpooled shape [${inferred.join(', ')}] of input [${x.shape.join(', ')}] is negative`);
  let shape = inferred;
  if (outputShape && outputShape.size) {
    shape = readInts(outputShape, 'MaxUnpool output_shape');
    if (shape.length !== x.rank || shape.some((d, i) => d < inferred[i]!)) throw new ShapeError(`MaxUnpool output_shape [${shape.join(', ')}] must be ${x.rank} sizes, each at least the unpooled shape [${inferred.join(', ')}]`);
  }
  // strides, pads and output_shape come from the file: both shapes are checked before allocating
  checkTensorShape('float64', inferred, 'MaxUnpool output');
  checkTensorShape('float64', shape, 'MaxUnpool output_shape');
  const total = shapeSize(inferred);
  const unpooled = new Float64Array(total);
  const xd = floatsOf(x, 'MaxUnpool', 'X');
  const id = readInts(indices, 'MaxUnpool I');
  for (let i = 0; i < id.length; i++) {
    const j = id[i]!;
    if (j < 0 || j >= total) throw new ShapeError(`MaxUnpool index ${j} is out of range for the unpooled shape [${inferred.join(', ')}]`);
    unpooled[j] = xd[i]!;
  }
  if (shape === inferred) return tensorFromNumbers(x.dtype, shape, unpooled);
  const out = new Float64Array(shapeSize(shape));
  const src = stridesOf(inferred);
  const dst = stridesOf(shape);
  for (let j = 0; j < total; j++) {
    if (unpooled[j] === 0) continue;
    let o = 0;
    for (let d = 0; d < shape.length; d++) o += (Math.floor(j / src[d]!) % inferred[d]!) * dst[d]!;
    out[o] = unpooled[j]!;
  }
  return tensorFromNumbers(x.dtype, shape, out);
}

export const samplingOps: OpTable = {
  GridSample: defineOp<GridSampleAttrs>({
    attrs: samplingDefs.GridSample.attrs,
    run: (inputs, a) => [gridSample(need(inputs, 0, 'X'), need(inputs, 1, 'grid'), a)],
  }),
  RoiAlign: defineOp<RoiAlignAttrs>({
    attrs: samplingDefs.RoiAlign.attrs,
    run: (inputs, a) => [roiAlign(need(inputs, 0, 'X'), need(inputs, 1, 'rois'), need(inputs, 2, 'batch_indices'), a)],
  }),
  MaxUnpool: defineOp<MaxUnpoolAttrs>({
    attrs: samplingDefs.MaxUnpool.attrs,
    run: (inputs, a) => [maxUnpool(need(inputs, 0, 'X'), need(inputs, 1, 'I'), inputs[2], a)],
  }),
};

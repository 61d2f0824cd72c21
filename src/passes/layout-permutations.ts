// Layout changes between the frameworks' tensor layouts, as data: each names a view of the
// tensor's elements (`from`, a reshape), the axis permutation and the resulting shape (`to`).
// They run through TensorKernels.permute (applyLayoutChange), so the same table serves the inline
// WASM kernels and a worker pool. The layout pass and transplant read their permutations here.
import { ShapeError } from '../ir/errors.js';
import type { Tensor } from '../ir/tensor.js';
import type { TensorKernels } from '../ir/tensor-kernels.js';

/** View the elements as `from`, permute by `perm` (output axis i = input axis perm[i]), view as `to`. */
export interface LayoutChange {
  from: number[];
  perm: number[];
  to: number[];
}

/** Apply a layout change computed for `t.shape`. */
export async function applyLayoutChange(kernels: TensorKernels, t: Tensor, change: LayoutChange): Promise<Tensor> {
  const permuted = await kernels.permute(t.reshape(change.from), change.perm);
  return change.to.length === permuted.rank && change.to.every((d, i) => d === permuted.shape[i]) ? permuted : permuted.reshape(change.to);
}

const range = (a: number, b: number): number[] => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);

function needRank(shape: readonly number[], what: string, min: number, max = min): void {
  if (shape.length < min || shape.length > max) {
    const want = min === max ? `rank ${min}` : `rank ${min}..${max}`;
    throw new ShapeError(`${what}: expected ${want}, got shape [${shape.join(', ')}]`);
  }
}

/** A plain permutation of `shape`. */
function permuted(shape: readonly number[], perm: number[]): LayoutChange {
  return { from: [...shape], perm, to: perm.map((p) => shape[p]!) };
}

// ---- permutation tables by rank ----

/** (N, C, d1..dk) -> (N, d1..dk, C); the identity below rank 3 (no spatial axes) */
export const channelsLastPerm = (rank: number): number[] => (rank < 3 ? range(0, rank) : [0, ...range(2, rank), 1]);
/** (N, d1..dk, C) -> (N, C, d1..dk); the identity below rank 3 */
export const channelsFirstPerm = (rank: number): number[] => (rank < 3 ? range(0, rank) : [0, rank - 1, ...range(1, rank - 1)]);
/** (O, I, k1..kn) -> (k1..kn, I, O) */
export const oihwToHwioPerm = (rank: number): number[] => [...range(2, rank), 1, 0];
/** (k1..kn, I, O) -> (O, I, k1..kn) */
export const hwioToOihwPerm = (rank: number): number[] => [rank - 1, rank - 2, ...range(0, rank - 2)];

// ---- activations ----

/** Channels-first to channels-last: (N,C,H,W) -> (N,H,W,C); also (N,C,W) and (N,C,D,H,W). */
export function nchwToNhwc(shape: readonly number[]): LayoutChange {
  needRank(shape, 'nchwToNhwc', 3, 8);
  return permuted(shape, channelsLastPerm(shape.length));
}

/** Channels-last to channels-first: (N,H,W,C) -> (N,C,H,W); also rank 3 and 5. */
export function nhwcToNchw(shape: readonly number[]): LayoutChange {
  needRank(shape, 'nhwcToNchw', 3, 8);
  return permuted(shape, channelsFirstPerm(shape.length));
}

// ---- conv weights ----

/** ONNX/PyTorch conv weights to TF/Keras: (O,I,H,W) -> (H,W,I,O); also 1-D and 3-D kernels. */
export function oihwToHwio(shape: readonly number[]): LayoutChange {
  needRank(shape, 'oihwToHwio', 3, 8);
  return permuted(shape, oihwToHwioPerm(shape.length));
}

/** TF/Keras conv weights to ONNX: (H,W,I,O) -> (O,I,H,W). */
export function hwioToOihw(shape: readonly number[]): LayoutChange {
  needRank(shape, 'hwioToOihw', 3, 8);
  return permuted(shape, hwioToOihwPerm(shape.length));
}

/** ONNX conv weights to TFLite: (O,I,H,W) -> (O,H,W,I). */
export function oihwToOhwi(shape: readonly number[]): LayoutChange {
  needRank(shape, 'oihwToOhwi', 3, 8);
  return permuted(shape, channelsLastPerm(shape.length));
}

/** TFLite conv weights to ONNX: (O,H,W,I) -> (O,I,H,W). */
export function ohwiToOihw(shape: readonly number[]): LayoutChange {
  needRank(shape, 'ohwiToOihw', 3, 8);
  return permuted(shape, channelsFirstPerm(shape.length));
}

/** PyTorch ConvTranspose2d (in, out, kh, kw) -> Keras Conv2DTranspose (kh, kw, out, in). */
export function iohwToHwoi(shape: readonly number[]): LayoutChange {
  needRank(shape, 'iohwToHwoi', 4);
  return permuted(shape, [2, 3, 1, 0]);
}

/** Depthwise conv weights, ONNX (C·M,1,H,W) -> TFLite (1,H,W,C·M). */
export function depthwiseOihwToTflite(shape: readonly number[]): LayoutChange {
  needRank(shape, 'depthwiseOihwToTflite', 4);
  if (shape[1] !== 1) throw new ShapeError(`depthwiseOihwToTflite: expected (C*M, 1, H, W), got [${shape.join(', ')}]`);
  return permuted(shape, [1, 2, 3, 0]);
}

/** Depthwise conv weights, TFLite (1,H,W,C·M) -> ONNX (C·M,1,H,W). */
export function depthwiseTfliteToOihw(shape: readonly number[]): LayoutChange {
  needRank(shape, 'depthwiseTfliteToOihw', 4);
  if (shape[0] !== 1) throw new ShapeError(`depthwiseTfliteToOihw: expected (1, H, W, C*M), got [${shape.join(', ')}]`);
  return permuted(shape, [3, 0, 1, 2]);
}

/**
 * Depthwise conv weights, ONNX (C·M,1,H,W) with group = C -> Keras DepthwiseConv2D (H,W,C,M).
 * Output channel o of the ONNX weight is input channel o / M, multiplier o % M.
 */
export function depthwiseOihwToKeras(shape: readonly number[], channels: number): LayoutChange {
  needRank(shape, 'depthwiseOihwToKeras', 4);
  const [cm, one, h, w] = shape as [number, number, number, number];
  if (one !== 1 || !Number.isInteger(channels) || channels <= 0 || cm % channels !== 0) {
    throw new ShapeError(`depthwiseOihwToKeras: expected (C*M, 1, H, W) with C = ${channels}, got [${shape.join(', ')}]`);
  }
  return { from: [channels, cm / channels, h, w], perm: [2, 3, 0, 1], to: [h, w, channels, cm / channels] };
}

/** Keras DepthwiseConv2D (H,W,C,M) -> ONNX (C·M,1,H,W). */
export function depthwiseKerasToOihw(shape: readonly number[]): LayoutChange {
  needRank(shape, 'depthwiseKerasToOihw', 4);
  const [h, w, c, m] = shape as [number, number, number, number];
  return { from: [h, w, c, m], perm: [2, 3, 0, 1], to: [c * m, 1, h, w] };
}

// ---- dense weights ----

/** Dense weights, ONNX/PyTorch (out,in) <-> Keras (in,out): a 2-D transpose, its own inverse. */
export function transposeDense(shape: readonly number[]): LayoutChange {
  needRank(shape, 'transposeDense', 2);
  return permuted(shape, [1, 0]);
}

function checkFlatten(shape: readonly number[], what: string, axis: number, c: number, h: number, w: number): void {
  needRank(shape, what, 2);
  for (const d of [c, h, w]) if (!Number.isInteger(d) || d <= 0) throw new ShapeError(`${what}: bad c/h/w ${c}/${h}/${w}`);
  if (shape[axis] !== c * h * w) throw new ShapeError(`${what}: axis ${axis} of [${shape.join(', ')}] must be c*h*w = ${c * h * w}`);
}

// A Flatten before a Dense layer flattens (C,H,W) in NCHW graphs but (H,W,C) in NHWC ones, so the
// dense weights' input index must be permuted the same way when the layout changes.

/** Keras-style dense kernel (in = C·H·W flattened in CHW order, out) -> rows in HWC order. */
export function reorderDenseRowsNchwToNhwc(shape: readonly number[], c: number, h: number, w: number): LayoutChange {
  checkFlatten(shape, 'reorderDenseRowsNchwToNhwc', 0, c, h, w);
  return { from: [c, h, w, shape[1]!], perm: [1, 2, 0, 3], to: [...shape] };
}

/** Inverse of reorderDenseRowsNchwToNhwc: rows in HWC order -> CHW order. */
export function reorderDenseRowsNhwcToNchw(shape: readonly number[], c: number, h: number, w: number): LayoutChange {
  checkFlatten(shape, 'reorderDenseRowsNhwcToNchw', 0, c, h, w);
  return { from: [h, w, c, shape[1]!], perm: [2, 0, 1, 3], to: [...shape] };
}

/** ONNX Gemm-style weights (out, in = C·H·W in CHW order) -> columns in HWC order. */
export function reorderDenseColumnsNchwToNhwc(shape: readonly number[], c: number, h: number, w: number): LayoutChange {
  checkFlatten(shape, 'reorderDenseColumnsNchwToNhwc', 1, c, h, w);
  return { from: [shape[0]!, c, h, w], perm: [0, 2, 3, 1], to: [...shape] };
}

/** Inverse of reorderDenseColumnsNchwToNhwc. */
export function reorderDenseColumnsNhwcToNchw(shape: readonly number[], c: number, h: number, w: number): LayoutChange {
  checkFlatten(shape, 'reorderDenseColumnsNhwcToNchw', 1, c, h, w);
  return { from: [shape[0]!, h, w, c], perm: [0, 3, 1, 2], to: [...shape] };
}

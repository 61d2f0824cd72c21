// The frameworks' layout changes (src/passes/layout-permutations.ts) run through the inline
// kernels, checked element by element against index arithmetic written out here, and each
// against its inverse.
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import {
  applyLayoutChange,
  depthwiseKerasToOihw,
  depthwiseOihwToKeras,
  depthwiseOihwToTflite,
  depthwiseTfliteToOihw,
  hwioToOihw,
  nchwToNhwc,
  nhwcToNchw,
  ohwiToOihw,
  oihwToHwio,
  oihwToOhwi,
  reorderDenseColumnsNchwToNhwc,
  reorderDenseColumnsNhwcToNchw,
  reorderDenseRowsNchwToNhwc,
  reorderDenseRowsNhwcToNchw,
  transposeDense,
  type LayoutChange,
} from '../../../src/passes/layout-permutations.js';
import { inlineKernels } from '../../../src/wasm/tensor-kernels.js';

const iota = (shape: number[]) => Tensor.float32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i));
const at = (t: Tensor, idx: number[]) => {
  let o = 0;
  for (let i = 0; i < idx.length; i++) o = o * t.shape[i]! + idx[i]!;
  return (t.data as Float32Array)[o];
};
const apply = (t: Tensor, change: (shape: readonly number[]) => LayoutChange) => applyLayoutChange(inlineKernels, t, change(t.shape));
const same = (a: Tensor, b: Tensor) => {
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(a.data as Float32Array)).toEqual(Array.from(b.data as Float32Array));
};

describe('layout changes', () => {
  it('nchwToNhwc / nhwcToNchw', async () => {
    const x = iota([2, 3, 4, 5]);
    const y = await apply(x, nchwToNhwc);
    expect(y.shape).toEqual([2, 4, 5, 3]);
    expect(at(y, [1, 2, 3, 1])).toBe(at(x, [1, 1, 2, 3]));
    same(await apply(y, nhwcToNchw), x);
    expect(() => nchwToNhwc([2, 3])).toThrow(ShapeError);
  });

  it('conv weights: OIHW <-> HWIO and OHWI', async () => {
    const w = iota([4, 3, 2, 5]);
    const hwio = await apply(w, oihwToHwio);
    expect(hwio.shape).toEqual([2, 5, 3, 4]);
    expect(at(hwio, [1, 4, 2, 3])).toBe(at(w, [3, 2, 1, 4]));
    same(await apply(hwio, hwioToOihw), w);
    const ohwi = await apply(w, oihwToOhwi);
    expect(ohwi.shape).toEqual([4, 2, 5, 3]);
    expect(at(ohwi, [3, 1, 4, 2])).toBe(at(w, [3, 2, 1, 4]));
    same(await apply(ohwi, ohwiToOihw), w);
  });

  it('depthwise weights: TFLite (1,H,W,C*M) and Keras (H,W,C,M)', async () => {
    const C = 3;
    const M = 2;
    const w = iota([C * M, 1, 3, 4]);
    const tfl = await apply(w, depthwiseOihwToTflite);
    expect(tfl.shape).toEqual([1, 3, 4, 6]);
    expect(at(tfl, [0, 2, 1, 5])).toBe(at(w, [5, 0, 2, 1]));
    same(await apply(tfl, depthwiseTfliteToOihw), w);
    const keras = await apply(w, (s) => depthwiseOihwToKeras(s, C));
    expect(keras.shape).toEqual([3, 4, C, M]);
    // ONNX output channel o = c*M + m
    expect(at(keras, [2, 1, 2, 1])).toBe(at(w, [2 * M + 1, 0, 2, 1]));
    same(await apply(keras, depthwiseKerasToOihw), w);
    expect(() => depthwiseOihwToKeras(w.shape, 4)).toThrow(ShapeError);
  });

  it('dense and the flatten row order', async () => {
    const d = iota([3, 5]);
    expect(at(await apply(d, transposeDense), [4, 2])).toBe(at(d, [2, 4]));
    const [c, h, w, out] = [3, 2, 4, 5];
    const rows = iota([c * h * w, out]);
    const r = await apply(rows, (s) => reorderDenseRowsNchwToNhwc(s, c, h, w));
    // NHWC flatten index (y*w + x)*c + ch holds what NCHW index (ch*h + y)*w + x held
    expect(at(r, [(1 * w + 3) * c + 2, 4])).toBe(at(rows, [(2 * h + 1) * w + 3, 4]));
    same(await apply(r, (s) => reorderDenseRowsNhwcToNchw(s, c, h, w)), rows);
    const cols = iota([out, c * h * w]);
    const cc = await apply(cols, (s) => reorderDenseColumnsNchwToNhwc(s, c, h, w));
    expect(at(cc, [4, (1 * w + 3) * c + 2])).toBe(at(cols, [4, (2 * h + 1) * w + 3]));
    same(await apply(cc, (s) => reorderDenseColumnsNhwcToNchw(s, c, h, w)), cols);
    expect(() => reorderDenseRowsNchwToNhwc([25, 5], c, h, w)).toThrow(ShapeError);
  });
});

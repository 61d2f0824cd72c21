// Constant Pad's block-copy path (runtime/ops/pad.ts) against a plain scalar twin: every output
// position is the input element it maps back to, or the constant. Random shapes and pads,
// including size-0 and size-1 axes, unpadded tensors, int64 and bool data.
import { describe, expect, it } from 'vitest';
import { allocArray, type DType, type NumericArray } from '../../../src/ir/dtypes.js';
import { Tensor, shapeSize } from '../../../src/ir/tensor.js';
import { pad } from '../../../src/runtime/ops/pad.js';
import { rng } from '../kernels/reference.js';

function padRef(x: Tensor, before: number[], after: number[], value: number): { shape: number[]; data: unknown[] } {
  const shape = x.shape.map((d, i) => d + before[i]! + after[i]!);
  const n = shapeSize(shape);
  const src = x.data as ArrayLike<unknown>;
  const data: unknown[] = [];
  const fill = x.dtype === 'int64' ? BigInt(value) : x.dtype === 'bool' ? (value ? 1 : 0) : value;
  for (let o = 0; o < n; o++) {
    let rest = o;
    let at = 0;
    let inside = true;
    for (let d = shape.length - 1, stride = 1; d >= 0; d--) {
      const i = (rest % shape[d]!) - before[d]!;
      rest = Math.floor(rest / shape[d]!);
      if (i < 0 || i >= x.shape[d]!) inside = false;
      at += i * stride;
      stride *= x.shape[d]!;
    }
    data.push(inside ? src[at] : fill);
  }
  return { shape, data };
}

describe('Pad, constant mode', () => {
  it('equals the scalar twin on random shapes, pads and dtypes', () => {
    const r = rng(77);
    for (let t = 0; t < 200; t++) {
      const rank = 1 + Math.floor(r() * 4);
      const shape = Array.from({ length: rank }, () => Math.floor(r() * 5) + (r() < 0.1 ? 0 : 1) - (r() < 0.05 ? 1 : 0)).map((d) => Math.max(0, d));
      const before = shape.map(() => (r() < 0.5 ? 0 : Math.floor(r() * 3)));
      const after = shape.map(() => (r() < 0.5 ? 0 : Math.floor(r() * 3)));
      const dtype: DType = (['float32', 'float32', 'int64', 'bool', 'int8'] as const)[Math.floor(r() * 5)]!;
      const n = shapeSize(shape);
      const data = allocArray(dtype, n) as NumericArray;
      for (let i = 0; i < n; i++) (data as unknown as unknown[])[i] = dtype === 'int64' ? BigInt(i + 1) : dtype === 'bool' ? (i % 3 ? 1 : 0) : dtype === 'int8' ? (i % 200) - 100 : i + 0.5;
      const x = new Tensor(dtype, shape, data);
      const value = dtype === 'bool' ? 1 : r() < 0.5 ? 0 : -7;
      const pads = [...before, ...after];
      const got = pad(x, pads, 'constant', value);
      const want = padRef(x, before, after, value);
      const what = `${dtype} [${shape.join(', ')}] pads [${pads.join(', ')}] value ${value}`;
      expect(got.shape, what).toEqual(want.shape);
      expect(Array.from(got.data as ArrayLike<unknown>), what).toEqual(want.data);
    }
  });
});

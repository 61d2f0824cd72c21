// Deferred permutations (Tensor.permute, src/ir/permuted-view.ts) against a plain index-by-index
// permutation: chains of permutes and reshapes, odd sizes, size 1 and 0, and the slices a
// streaming writer copies out.
import { describe, expect, it } from 'vitest';
import { copyStrided, copyStridedFromBytes, sourceData, viewSlices } from '../../../src/ir/permuted-view.js';
import { Tensor } from '../../../src/ir/tensor.js';

/** The reference: out[i] = x[perm-mapped index], one element at a time. */
function naivePermute(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const outShape = perm.map((p) => shape[p]!);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let s = 0;
    for (let i = 0; i < idx.length; i++) s += idx[i]! * strides[perm[i]!]!;
    out[o] = data[s]!;
    for (let i = idx.length - 1; i >= 0; i--) {
      if (++idx[i]! < outShape[i]!) break;
      idx[i] = 0;
    }
  }
  return out;
}

let seed = 12345;
const rand = (n: number) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
};
const shuffle = (n: number) => {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rand(i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
};
const iota = (n: number) => Float32Array.from({ length: n }, (_, i) => i + 0.5);

describe('Tensor.permute (deferred)', () => {
  it('matches a plain permutation on random shapes, including size 1 and odd sizes', () => {
    for (let trial = 0; trial < 200; trial++) {
      const rank = 1 + rand(5);
      const shape = Array.from({ length: rank }, () => 1 + rand(7));
      const data = iota(shape.reduce((a, b) => a * b, 1));
      const perm = shuffle(rank);
      const t = new Tensor('float32', shape, data).permute(perm);
      expect(t.shape).toEqual(perm.map((p) => shape[p]));
      expect(Array.from(t.data as Float32Array)).toEqual(Array.from(naivePermute(data, shape, perm)));
    }
  });

  it('composes permutes and reshapes without copying until data is read', () => {
    for (let trial = 0; trial < 200; trial++) {
      const shape = [1 + rand(4), 2 + rand(5), 1 + rand(4), 1 + rand(3)];
      const data = iota(shape.reduce((a, b) => a * b, 1));
      const p1 = shuffle(4);
      const a = new Tensor('float32', shape, data).permute(p1);
      const ref1 = naivePermute(data, shape, p1);
      // merge two axes, permute again
      const merged = [a.shape[0]! * a.shape[1]!, a.shape[2]!, a.shape[3]!];
      const p2 = shuffle(3);
      const b = a.reshape(merged).permute(p2);
      expect(b.deferred).toBeDefined();
      const ref2 = naivePermute(ref1, merged, p2);
      expect(Array.from(b.data as Float32Array)).toEqual(Array.from(ref2));
      expect(b.deferred).toBeUndefined(); // materialized once read
    }
  });

  it('the dense-after-flatten case: (N, C·H·W) rows to H·W·C, then transposed', () => {
    const [N, C, H, W] = [5, 3, 4, 2];
    const K = C * H * W;
    const w = iota(N * K);
    const t = new Tensor('float32', [N, K], w).reshape([N, C, H, W]).permute([0, 2, 3, 1]).reshape([N, K]).permute([1, 0]);
    const expected = new Float32Array(K * N);
    for (let h = 0; h < H; h++) for (let x = 0; x < W; x++) for (let c = 0; c < C; c++) for (let n = 0; n < N; n++) expected[((h * W + x) * C + c) * N + n] = w[n * K + c * H * W + h * W + x]!;
    expect(Array.from(t.data as Float32Array)).toEqual(Array.from(expected));
  });

  it('size 0 and identity', () => {
    const e = new Tensor('float32', [0, 3], new Float32Array(0)).permute([1, 0]);
    expect(e.shape).toEqual([3, 0]);
    expect((e.data as Float32Array).length).toBe(0);
    const x = new Tensor('float32', [2, 3], iota(6));
    expect(x.permute([0, 1])).toBe(x);
    expect(() => x.permute([0, 0])).toThrow(/not a permutation/);
  });

  it('slices of whole rows, copied one by one, give the whole tensor', () => {
    for (let trial = 0; trial < 100; trial++) {
      const shape = [1 + rand(6), 1 + rand(6), 1 + rand(5), 1 + rand(4)];
      const data = iota(shape.reduce((a, b) => a * b, 1));
      const perm = shuffle(4);
      const t = new Tensor('float32', shape, data).permute(perm);
      const view = t.deferred!;
      const rows = t.shape[0]!;
      const rowSize = t.size / rows;
      const out = new Float32Array(t.size);
      const seen = new Array<number>(rows).fill(0);
      for (const s of viewSlices(view, rows, 1 + rand(40))) {
        const n = s.sizes.reduce((a, b) => a * b, 1);
        expect(n).toBe(s.starts.length * s.rows * rowSize);
        const box = new Float32Array(n);
        copyStrided(sourceData(view.source), s.offset, s.sizes, s.strides, box);
        s.starts.forEach((row, k) => {
          out.set(box.subarray(k * s.rows * rowSize, (k + 1) * s.rows * rowSize), row * rowSize);
          for (let r = row; r < row + s.rows; r++) seen[r]!++;
        });
      }
      expect(seen.every((c) => c === 1)).toBe(true);
      expect(Array.from(out)).toEqual(Array.from(naivePermute(data, shape, perm)));
    }
  });

  it('boxes read from bytes at an odd offset equal boxes read from the aligned elements', () => {
    for (let trial = 0; trial < 100; trial++) {
      const shape = [1 + rand(5), 1 + rand(6), 1 + rand(4)];
      const count = shape.reduce((a, b) => a * b, 1);
      const data = iota(count);
      const odd = new Uint8Array(count * 4 + 3);
      const shift = 1 + rand(3);
      odd.set(new Uint8Array(data.buffer), shift);
      const bytes = odd.subarray(shift, shift + count * 4);
      const t = new Tensor('float32', shape, data).permute(shuffle(3));
      const view = t.deferred ?? { source: data, shape, perm: [0, 1, 2] };
      for (const s of viewSlices(view, t.shape[0]!, 1 + rand(30))) {
        const n = s.sizes.reduce((a, b) => a * b, 1);
        const a = new Float32Array(n);
        const b = new Float32Array(n);
        copyStrided(data, s.offset, s.sizes, s.strides, a);
        copyStridedFromBytes(bytes, s.offset, s.sizes, s.strides, b);
        expect(Array.from(b)).toEqual(Array.from(a));
      }
    }
  });
});

import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/ir/tensor.js';
import type { NumericArray } from '../../src/ir/dtypes.js';
import { ShapeError } from '../../src/ir/errors.js';
import { permute, permuteArray, planPermute } from '../../src/wasm/permute.js';
import { kernels } from '../../src/wasm/loader.js';
import { permuteScalar } from '../../src/wasm/scalar/permute.js';
import { rng } from '../support/rng.js';


// Integer arrays so that the scalar twin, which copies through JS values, keeps every bit (NaN payloads too).
const CTORS = [Uint8Array, Uint16Array, Uint32Array, BigUint64Array] as const;

function fill<A extends NumericArray>(ctor: { new (n: number): A }, n: number, r: () => number): A {
  const a = new ctor(n);
  const bytes = new Uint8Array(a.buffer);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (r() * 256) | 0;
  return a;
}

function shuffle(n: number, r: () => number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

const DIMS = [0, 1, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 64, 67];

function bitsEqual(a: NumericArray, b: NumericArray): boolean {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

describe('permute kernel vs scalar twin', () => {
  it('random shapes, ranks 1-6, element sizes 1/2/4/8, bit-identical', () => {
    const r = rng(1234);
    let cases = 0;
    for (let iter = 0; iter < 600; iter++) {
      const rank = 1 + (iter % 6);
      const shape = Array.from({ length: rank }, () => DIMS[Math.floor(r() * DIMS.length)]!);
      // keep it small: shrink until under 200k elements
      while (shape.reduce((a, b) => a * b, 1) > 200_000) shape[Math.floor(r() * rank)] = Math.max(1, Math.floor(shape[Math.floor(r() * rank)]! / 3));
      const perm = shuffle(rank, r);
      const ctor = CTORS[iter % CTORS.length]!;
      const n = shape.reduce((a, b) => a * b, 1);
      const data = fill(ctor as unknown as { new (n: number): NumericArray }, n, r);
      const want = permuteScalar(data, shape, perm, (m) => new (ctor as unknown as { new (n: number): NumericArray })(m));
      const got = permuteArray(data, shape, perm);
      expect(bitsEqual(got, want), `mismatch for shape [${shape}] perm [${perm}] ${ctor.name}`).toBe(true);
      cases++;
    }
    expect(cases).toBe(600);
  });

  it('large 2-D transposes and NCHW->NHWC cover the SIMD tiles and their edges', () => {
    const r = rng(7);
    for (const ctor of CTORS) {
      for (const [shape, perm] of [
        [[131, 257], [1, 0]],
        [[2, 67, 9, 11], [0, 2, 3, 1]],
        [[37, 29, 3, 3], [2, 3, 1, 0]],
        [[5, 3, 2], [2, 0, 1]],
        [[3, 4, 1, 5], [3, 2, 0, 1]],
        // adjacent destination rows of <= 64 f32 (direct 4x16 path): full blocks, tails in both axes
        [[3, 33, 17, 5], [0, 2, 3, 1]],
        [[2, 64, 7, 9], [0, 2, 3, 1]],
        [[40, 19], [1, 0]],
      ] as [number[], number[]][]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const C = ctor as unknown as { new (n: number): NumericArray };
        const data = fill(C, n, r);
        expect(bitsEqual(permuteArray(data, shape, perm), permuteScalar(data, shape, perm, (m) => new C(m)))).toBe(true);
      }
    }
  });

  it('column strips (f32 rows > 64 long; multi-axis destination rows) and their tails', () => {
    const r = rng(1717);
    const C = Uint32Array as unknown as { new (n: number): NumericArray };
    for (const [shape, perm] of [
      // one destination stride: strips of 16 source columns in bands of 1024 source rows
      [[65, 16], [1, 0]],
      [[68, 32], [1, 0]],
      [[131, 33], [1, 0]],
      [[67, 17], [1, 0]],
      [[1100, 21], [1, 0]],
      [[1029, 50], [1, 0]],
      [[2, 97, 5, 7], [0, 2, 3, 1]],
      // at least 128 source rows and columns: 128 x 128 blocks (edges: < 128, not a multiple of 16 / 4)
      [[128, 128], [1, 0]],
      [[256, 384], [1, 0]],
      [[131, 129], [1, 0]],
      [[143, 130], [1, 0]],
      [[300, 257], [1, 0]],
      [[129, 515], [1, 0]],
      [[517, 131], [1, 0]],
      [[2, 144, 9, 15], [0, 2, 3, 1]],
      [[3, 130, 11, 13], [0, 2, 3, 1]],
      // row axes without one destination stride (OIHW->HWIO): strips of 8 columns, 16 rows a step
      [[16, 8, 3, 3], [2, 3, 1, 0]],
      [[17, 5, 3, 3], [2, 3, 1, 0]],
      [[33, 7, 1, 3], [2, 3, 1, 0]],
      [[64, 3, 7, 7], [2, 3, 1, 0]],
      [[31, 13, 2, 2], [2, 3, 1, 0]],
      [[47, 3, 5, 2], [3, 2, 1, 0]],
      [[16, 1, 1, 9], [2, 3, 1, 0]],
      [[6, 8, 3, 3], [2, 3, 1, 0]],
      [[23, 9, 2, 2], [2, 3, 1, 0]],
      [[4, 3, 3, 3], [2, 3, 1, 0]],
    ] as [number[], number[]][]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = fill(C, n, r);
      const want = permuteScalar(data, shape, perm, (m) => new C(m));
      expect(bitsEqual(permuteArray(data, shape, perm), want), `mismatch: shape [${shape}] perm [${perm}]`).toBe(true);
      // streamed in slices of the outer axis: the same paths with destination strides of the whole output
      if (!bitsEqual(permuteArray(data, shape, perm, { streamBytes: Math.max(4, (n * 4) >> 2) }), want)) throw new Error(`streamed mismatch: shape [${shape}] perm [${perm}]`);
    }
  });

  it('chunked along the outer axis gives identical results', () => {
    const r = rng(99);
    for (let iter = 0; iter < 120; iter++) {
      const rank = 2 + (iter % 5);
      const shape = Array.from({ length: rank }, () => 1 + Math.floor(r() * 9));
      if (iter % 7 === 0) shape[0] = 1; // outer unit axis: chunk on the next one
      const perm = shuffle(rank, r);
      const ctor = CTORS[iter % CTORS.length]!;
      const C = ctor as unknown as { new (n: number): NumericArray };
      const n = shape.reduce((a, b) => a * b, 1);
      const data = fill(C, n, r);
      const whole = permuteArray(data, shape, perm);
      const chunkBytes = 1 + Math.floor(r() * n * ctor.BYTES_PER_ELEMENT * 0.5);
      const chunked = permuteArray(data, shape, perm, { chunkBytes });
      expect(bitsEqual(chunked, whole), `chunked mismatch: shape [${shape}] perm [${perm}] ${ctor.name} chunkBytes ${chunkBytes}`).toBe(true);
    }
  });

  it('streamed through WASM memory in slices of the outer axis gives identical results', () => {
    const r = rng(4242);
    for (let iter = 0; iter < 150; iter++) {
      const rank = 2 + (iter % 5);
      const shape = Array.from({ length: rank }, () => 1 + Math.floor(r() * 9));
      if (iter % 5 === 0) shape[0] = 1; // outer unit axis: slices of the next one
      if (iter % 3 === 0) shape[Math.floor(r() * rank)] = 1;
      const perm = shuffle(rank, r);
      const ctor = CTORS[iter % CTORS.length]!;
      const C = ctor as unknown as { new (n: number): NumericArray };
      const n = shape.reduce((a, b) => a * b, 1);
      const data = fill(C, n, r);
      const want = permuteScalar(data, shape, perm, (m) => new C(m));
      const streamBytes = 1 + Math.floor(r() * n * ctor.BYTES_PER_ELEMENT * 0.5);
      const got = permuteArray(data, shape, perm, { streamBytes });
      expect(bitsEqual(got, want), `streamed mismatch: shape [${shape}] perm [${perm}] ${ctor.name} streamBytes ${streamBytes}`).toBe(true);
    }
  });

  it('uses arrays already in WASM memory in place and can write into a WASM view', () => {
    const k = kernels();
    k.arena.scoped(() => {
      const shape = [3, 5, 7];
      const n = 105;
      const src = k.arena.alloc(n * 4);
      const dst = k.arena.alloc(n * 4);
      const view = k.arena.f32(src, n);
      for (let i = 0; i < n; i++) view[i] = i;
      const got = permuteArray(view, shape, [2, 0, 1], { out: k.arena.f32(dst, n) });
      expect(got.byteOffset).toBe(dst);
      const want = permuteScalar(Float32Array.from({ length: n }, (_, i) => i), shape, [2, 0, 1], (m) => new Float32Array(m));
      expect(Array.from(got)).toEqual(Array.from(want));
    });
  });

  it('coalesces axes and widens short contiguous rows', () => {
    expect(planPermute([1, 256, 256, 256], [0, 2, 3, 1], 4)).toEqual({ es: 4, axes: [{ len: 65536, stride: 1 }, { len: 256, stride: 65536 }] });
    expect(planPermute([4, 5, 2], [1, 0, 2], 4)).toEqual({ es: 8, axes: [{ len: 5, stride: 1 }, { len: 4, stride: 5 }] });
    expect(planPermute([2, 3, 4], [0, 1, 2], 2).axes).toEqual([{ len: 24, stride: 1 }]);
  });

  it('rejects bad permutations with ShapeError', () => {
    const t = Tensor.float32([2, 3]);
    expect(() => permute(t, [0, 0])).toThrow(ShapeError);
    expect(() => permute(t, [0])).toThrow(ShapeError);
    expect(() => permute(t, [0, 2])).toThrow(ShapeError);
  });

  it('handles size 0, rank 0, int64 and strings', () => {
    expect(permute(Tensor.float32([0, 3]), [1, 0]).shape).toEqual([3, 0]);
    expect(permute(Tensor.scalar('float32', 5), []).toNumbers()).toEqual([5]);
    const i64 = Tensor.int64([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(permute(i64, [1, 0]).toNumbers()).toEqual([1, 4, 2, 5, 3, 6]);
    const s = new Tensor('string', [2, 2], ['a', 'b', 'c', 'd']);
    expect(permute(s, [1, 0]).data).toEqual(['a', 'c', 'b', 'd']);
  });
});

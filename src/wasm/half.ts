// float32 <-> float16 / bfloat16 for whole arrays on the SIMD kernels (assembly/kernels/half.ts).
// float16 and bfloat16 are raw bits in Uint16Array, as everywhere in nnport.
import type { NumericArray } from '../ir/dtypes.js';
import { ShapeError } from '../ir/errors.js';
import { Tensor } from '../ir/tensor.js';
import { kernels, type Kernels } from './loader.js';
import { axisBlocks, copyOutInto, DEFAULT_CHUNK_BYTES, stageIn, viewAt, wasmPointer, type ArrayCtor } from './kernel-io.js';

export interface ConvertOptions {
  /** Largest input, in bytes, moved into WASM memory at once. */
  chunkBytes?: number;
  /** Write here instead of a new array (may be a view into WASM memory). */
  out?: NumericArray;
}

function convert<I extends NumericArray, O extends NumericArray>(
  name: 'float32ToFloat16' | 'float16ToFloat32' | 'float32ToBfloat16' | 'bfloat16ToFloat32',
  src: I,
  outCtor: ArrayCtor<O>,
  opts: ConvertOptions,
): O {
  const n = src.length;
  const out = opts.out as O | undefined;
  if (out && (out.length !== n || out.constructor !== outCtor)) throw new ShapeError(`${name}: 'out' must be a ${outCtor.name} of ${n} elements`);
  if (n === 0) return out ?? new outCtor(0);
  const k: Kernels = kernels();
  const fn = k.exports[name];
  const inEs = src.BYTES_PER_ELEMENT;
  const outEs = outCtor.BYTES_PER_ELEMENT;
  const outPtr = out ? wasmPointer(k, out) : undefined;
  const inPtr = wasmPointer(k, src);
  const chunk = inPtr !== undefined ? n : Math.max(1, Math.floor((opts.chunkBytes ?? DEFAULT_CHUNK_BYTES) / inEs));
  const result = outPtr === undefined ? (out ?? new outCtor(n)) : undefined;
  const mark = k.arena.mark();
  try {
    for (const b of axisBlocks(1, 1, n, chunk)) {
      const s = inPtr !== undefined ? inPtr + b.offset * inEs : stageIn(k, src.subarray(b.offset, b.offset + b.count));
      const d = outPtr !== undefined ? outPtr + b.offset * outEs : k.arena.alloc(b.count * outEs);
      fn(s, d, b.count);
      if (result) copyOutInto(k, result, b.offset, d, b.count);
      k.arena.release(mark);
    }
  } finally {
    k.arena.release(mark);
  }
  return result ?? viewAt(k, outCtor, outPtr!, n);
}

/** float32 -> float16 bits (round to nearest even, subnormals, ±0, ±inf, NaN kept as NaN). */
export function float32ToFloat16(src: Float32Array, opts: ConvertOptions = {}): Uint16Array {
  return convert('float32ToFloat16', src, Uint16Array, opts);
}

/** float16 bits -> float32 (exact). */
export function float16ToFloat32(src: Uint16Array, opts: ConvertOptions = {}): Float32Array {
  return convert('float16ToFloat32', src, Float32Array, opts);
}

/** float32 -> bfloat16 bits (round to nearest even; NaN stays a quiet NaN). */
export function float32ToBfloat16(src: Float32Array, opts: ConvertOptions = {}): Uint16Array {
  return convert('float32ToBfloat16', src, Uint16Array, opts);
}

/** bfloat16 bits -> float32 (exact). */
export function bfloat16ToFloat32(src: Uint16Array, opts: ConvertOptions = {}): Float32Array {
  return convert('bfloat16ToFloat32', src, Float32Array, opts);
}

/** A float32, float16 or bfloat16 tensor converted to `dtype` (one of those three). */
export function castFloat(t: Tensor, dtype: 'float32' | 'float16' | 'bfloat16', opts: ConvertOptions = {}): Tensor {
  if (t.dtype === dtype) return t;
  const ok = (d: string) => d === 'float32' || d === 'float16' || d === 'bfloat16';
  if (!ok(t.dtype)) throw new ShapeError(`castFloat: expected a float32, float16 or bfloat16 tensor, got ${t.dtype}`);
  let f32: Float32Array;
  if (t.dtype === 'float32') f32 = t.data as Float32Array;
  else if (t.dtype === 'float16') f32 = float16ToFloat32(t.data as Uint16Array, dtype === 'float32' ? opts : {});
  else f32 = bfloat16ToFloat32(t.data as Uint16Array, dtype === 'float32' ? opts : {});
  if (dtype === 'float32') return new Tensor('float32', t.shape, f32);
  return new Tensor(dtype, t.shape, dtype === 'float16' ? float32ToFloat16(f32, opts) : float32ToBfloat16(f32, opts));
}

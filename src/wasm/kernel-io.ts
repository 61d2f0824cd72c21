// Moving arrays in and out of WASM memory for the kernel wrappers (permute, quantize, half,
// calibrate). Arrays that already live in the kernels' memory are used in place, so a tensor
// crosses into WASM at most once.
import type { NumericArray } from '../ir/dtypes.js';
import { ShapeError } from '../ir/errors.js';
import type { Kernels } from './loader.js';

/**
 * Default largest input moved into WASM memory at once by the element-wise wrappers (quantize,
 * float16, calibration). JS-owned arrays are streamed through WASM memory in pieces this size: each
 * piece is copied in, converted and copied out while it is still in the L2 cache, so a call from JS
 * costs little more memory traffic than the kernel itself (one 64 MiB piece would be copied in, read
 * by the kernel and copied out through DRAM, about half the speed). Arrays already in WASM memory
 * are used in place, whatever their size.
 */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;

/** Largest input permuted with the whole output in WASM memory; bigger ones go in chunks of their outer axis. */
export const MAX_STAGE_BYTES = 512 * 1024 * 1024;

export type ArrayCtor<A extends NumericArray = NumericArray> = {
  new (n: number): A;
  new (b: ArrayBufferLike, o: number, n: number): A;
  readonly BYTES_PER_ELEMENT: number;
};

export function ctorOf<A extends NumericArray>(a: A): ArrayCtor<A> {
  return a.constructor as ArrayCtor<A>;
}

/** The pointer of `a` if it is a view into the kernels' memory. */
export function wasmPointer(k: Kernels, a: ArrayBufferView): number | undefined {
  return a.buffer === k.exports.memory.buffer ? a.byteOffset : undefined;
}

/** A pointer to `a`'s bytes in WASM memory: in place when already there, else one copy into the arena. */
export function stageIn(k: Kernels, a: ArrayBufferView): number {
  return wasmPointer(k, a) ?? k.arena.copyIn(a);
}

/** A fresh JS-owned array of `ctor` holding `n` elements copied from WASM memory at `ptr`. */
export function copyOut<A extends NumericArray>(k: Kernels, ctor: ArrayCtor<A>, ptr: number, n: number): A {
  const out = new ctor(n);
  out.set(new ctor(k.exports.memory.buffer, ptr, n) as never);
  return out;
}

/** Copy `n` elements at WASM `ptr` into the JS-owned `dst` at element `offset`. */
export function copyOutInto<A extends NumericArray>(k: Kernels, dst: A, offset: number, ptr: number, n: number): void {
  const ctor = ctorOf(dst);
  dst.set(new ctor(k.exports.memory.buffer, ptr, n) as never, offset);
}

/** A fresh view of `n` elements at `ptr` (views die when memory grows; re-make them after any alloc). */
export function viewAt<A extends NumericArray>(k: Kernels, ctor: ArrayCtor<A>, ptr: number, n: number): A {
  return new ctor(k.exports.memory.buffer, ptr, n);
}

/** Rows of `rowElems` elements per chunk so that one chunk's input stays under `chunkBytes` (at least 1). */
export function rowsPerChunk(rowElems: number, bytesPerElem: number, chunkBytes: number): number {
  const rowBytes = rowElems * bytesPerElem;
  return rowBytes <= 0 ? Number.MAX_SAFE_INTEGER : Math.max(1, Math.floor(chunkBytes / rowBytes));
}

/**
 * One contiguous piece of a (outer, channels, inner) tensor: elements [offset, offset + count),
 * covering outer rows [o, o + outer) and channels [c, c + channels) of each, `inner` each.
 */
export interface AxisBlock {
  offset: number;
  count: number;
  outer: number;
  c: number;
  channels: number;
  inner: number;
}

/**
 * Split a (outer, channels, inner) tensor into contiguous blocks of at most `maxElems` elements
 * (whole outer rows, else channel ranges of one row, else pieces of one channel).
 */
export function* axisBlocks(outer: number, channels: number, inner: number, maxElems: number): Generator<AxisBlock> {
  const row = channels * inner;
  if (outer * row === 0) return;
  if (row <= maxElems) {
    const step = Math.max(1, Math.floor(maxElems / row));
    for (let o = 0; o < outer; o += step) {
      const n = Math.min(step, outer - o);
      yield { offset: o * row, count: n * row, outer: n, c: 0, channels, inner };
    }
  } else if (inner <= maxElems) {
    const step = Math.max(1, Math.floor(maxElems / inner));
    for (let o = 0; o < outer; o++) {
      for (let c = 0; c < channels; c += step) {
        const n = Math.min(step, channels - c);
        yield { offset: o * row + c * inner, count: n * inner, outer: 1, c, channels: n, inner };
      }
    }
  } else {
    const step = Math.max(16, maxElems - (maxElems % 16));
    for (let o = 0; o < outer; o++) {
      for (let c = 0; c < channels; c++) {
        for (let i = 0; i < inner; i += step) {
          const n = Math.min(step, inner - i);
          yield { offset: o * row + c * inner + i, count: n, outer: 1, c, channels: 1, inner: n };
        }
      }
    }
  }
}

/** Normalise a possibly negative axis of a rank-`rank` tensor; throws ShapeError naming `what`. */
export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new ShapeError(`${what}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** (outer, channels, inner) of `shape` around `axis`. */
export function splitAtAxis(shape: readonly number[], axis: number): [number, number, number] {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  return [outer, shape[axis]!, inner];
}

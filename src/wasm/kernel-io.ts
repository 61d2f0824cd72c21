// Moving arrays in and out of WASM memory for the kernel wrappers (permute, quantize, half,
// calibrate). Arrays that already live in the kernels' memory are used in place, so a tensor
// crosses into WASM at most once.
import type { NumericArray } from '../ir/dtypes.js';
import type { Kernels } from './loader.js';

/** Default largest input processed in one piece; bigger inputs are chunked along the outer axis. */
export const DEFAULT_CHUNK_BYTES = 512 * 1024 * 1024;

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

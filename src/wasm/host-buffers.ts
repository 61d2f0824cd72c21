// Host arrays for the kernel outputs (float32, and the integer runtime's int8/uint8), reused
// across a run and across runs. A forward pass of mobilenet_v2 copies ~60 MB of float outputs
// (~7 MB int8) out of WASM memory; as fresh ArrayBuffers that is external memory V8 collects
// with full GCs (~1 s per 100 float passes, a fifth of their time). The executor
// (runtime/executor.ts) gives a buffer back when the last value holding it is freed; the next
// output of the same byte length then takes it instead of a new one.
import type { Kernels } from './loader.js';

/** buffers made here */
const owned = new WeakSet<ArrayBufferLike>();
/** free ones by byte length, and the same as a set (a buffer is never handed out twice) */
const free = new Map<number, ArrayBufferLike[]>();
const isFree = new WeakSet<ArrayBufferLike>();
let freeBytes = 0;
/** the most kept free: enough for the intermediates of a large pass, not an unbounded cache */
const MAX_FREE_BYTES = 128 * 1024 * 1024;

function take(bytes: number): ArrayBufferLike | undefined {
  const b = free.get(bytes)?.pop();
  if (!b) return undefined;
  isFree.delete(b);
  freeBytes -= b.byteLength;
  return b;
}

type Ctor<A> = { new (b: ArrayBufferLike, o?: number, n?: number): A; readonly BYTES_PER_ELEMENT: number };

/** `view` copied into a host array of its type (a free buffer when there is one). */
function copyOut<A extends Float32Array | Int8Array | Uint8Array>(ctor: Ctor<A>, view: A): A {
  const reused = take(view.byteLength);
  if (reused) {
    const a = new ctor(reused);
    a.set(view as never);
    return a;
  }
  // slice: one copy into fresh memory, without zero-filling it first
  const y = view.slice() as A;
  owned.add(y.buffer);
  return y;
}

/** The `n` float32 at WASM `ptr` copied into a host array (a free one when there is one). */
export function copyOutF32(k: Kernels, ptr: number, n: number): Float32Array {
  return copyOut(Float32Array, new Float32Array(k.exports.memory.buffer, ptr, n));
}

/** The `n` bytes at WASM `ptr` as an Int8Array (or Uint8Array) of their own (a free one when there is one). */
export function copyOut8(k: Kernels, ptr: number, n: number, unsigned: boolean): Int8Array | Uint8Array {
  const buffer = k.exports.memory.buffer;
  return unsigned ? copyOut(Uint8Array, new Uint8Array(buffer, ptr, n)) : copyOut(Int8Array, new Int8Array(buffer, ptr, n));
}

/** The buffer of `a` when it was made here (so it may be given back), else undefined. */
export function ownedBuffer(a: unknown): ArrayBufferLike | undefined {
  if (!ArrayBuffer.isView(a)) return undefined;
  return owned.has(a.buffer) ? a.buffer : undefined;
}

/** Give back a buffer of ownedBuffer's: nothing may read or write it any more. */
export function releaseBuffer(b: ArrayBufferLike): void {
  if (!owned.has(b) || isFree.has(b) || freeBytes + b.byteLength > MAX_FREE_BYTES) return;
  let list = free.get(b.byteLength);
  if (!list) free.set(b.byteLength, (list = []));
  list.push(b);
  isFree.add(b);
  freeBytes += b.byteLength;
}

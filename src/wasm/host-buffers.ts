// Host arrays for the float32 kernel outputs, reused across a run and across runs. A forward
// pass of mobilenet_v2 copies ~60 MB of outputs out of WASM memory; as fresh ArrayBuffers that
// is external memory V8 collects with full GCs (~1 s per 100 passes, a fifth of their time).
// The executor (runtime/executor.ts) gives a buffer back when the last value holding it is freed;
// the next output of the same length then takes it instead of a new one.
import type { Kernels } from './loader.js';

/** buffers made here, by their full view */
const owned = new WeakMap<ArrayBufferLike, Float32Array>();
/** free ones by length, and the same as a set (a buffer is never handed out twice) */
const free = new Map<number, Float32Array[]>();
const isFree = new WeakSet<Float32Array>();
let freeBytes = 0;
/** the most kept free: enough for the intermediates of a large pass, not an unbounded cache */
const MAX_FREE_BYTES = 128 * 1024 * 1024;

function take(n: number): Float32Array | undefined {
  const list = free.get(n);
  const a = list?.pop();
  if (!a) return undefined;
  isFree.delete(a);
  freeBytes -= a.byteLength;
  return a;
}

/** The `n` float32 at WASM `ptr` copied into a host array (a free one when there is one). */
export function copyOutF32(k: Kernels, ptr: number, n: number): Float32Array {
  const view = new Float32Array(k.exports.memory.buffer, ptr, n);
  const reused = take(n);
  if (reused) {
    reused.set(view);
    return reused;
  }
  // slice: one copy into fresh memory, without zero-filling it first
  const y = view.slice();
  owned.set(y.buffer, y);
  return y;
}

/** The buffer of `a` when it was made here (so it may be given back), else undefined. */
export function ownedBuffer(a: unknown): ArrayBufferLike | undefined {
  if (!ArrayBuffer.isView(a)) return undefined;
  return owned.has(a.buffer) ? a.buffer : undefined;
}

/** Give back a buffer of ownedBuffer's: nothing may read or write it any more. */
export function releaseBuffer(b: ArrayBufferLike): void {
  const a = owned.get(b);
  if (!a || isFree.has(a) || freeBytes + a.byteLength > MAX_FREE_BYTES) return;
  let list = free.get(a.length);
  if (!list) free.set(a.length, (list = []));
  list.push(a);
  isFree.add(a);
  freeBytes += a.byteLength;
}

// 8-bit activations that stay in WASM memory between the integer kernels of a run (the integer
// runtime's resident mode, src/runtime/integer/index.ts): a kernel writes its output straight
// into a pooled block and the next kernel reads it there, instead of each output being copied
// out to a host array and copied back in. Such a tensor is a device tensor of location
// RESIDENT_LOCATION (ir/tensor.ts TensorStorage): it holds a pointer, never a view, so WASM
// memory growth cannot detach it; `read` copies it to the host for any other kernel or the
// caller, and `dispose` (the executor, when its last reader is done) gives the block back.
// Blocks are pooled by size: a model run again asks for the same sizes, so after the first run
// no block is allocated. A storage lost without dispose (a run that threw) returns its block
// when it is garbage-collected.
import type { TensorStorage } from '../ir/tensor.js';
import { kernels } from './loader.js';

export const RESIDENT_LOCATION = 'wasm-int8';

/** Bytes after the data that the kernels' 8-lane loads may read. */
const SLACK = 16;
/** free blocks by byte size */
const free = new Map<number, number[]>();
let freeBytes = 0;
/** the most kept free (beyond it a block goes back to the arena) */
const MAX_FREE_BYTES = 64 * 1024 * 1024;

interface Block {
  ptr: number;
  bytes: number;
  live: boolean;
}

function giveBack(b: Block): void {
  if (!b.live) return;
  b.live = false;
  if (freeBytes + b.bytes > MAX_FREE_BYTES) {
    kernels().arena.freePersistent(b.ptr);
    return;
  }
  let list = free.get(b.bytes);
  if (!list) free.set(b.bytes, (list = []));
  list.push(b.ptr);
  freeBytes += b.bytes;
}

const lost = new FinalizationRegistry<Block>(giveBack);

/** An 8-bit tensor's elements in WASM memory at `ptr` (with SLACK readable bytes after them). */
export class ResidentBytes implements TensorStorage {
  readonly location = RESIDENT_LOCATION;
  private readonly block: Block;

  private constructor(
    readonly ptr: number,
    readonly length: number,
    readonly unsigned: boolean,
    bytes: number,
  ) {
    this.block = { ptr, bytes, live: true };
    lost.register(this, this.block, this);
  }

  /**
   * A block for `n` bytes: a pooled one of the same size, else new persistent arena memory.
   * Call it before any scratch allocation of the kernel call (arena.scoped): scratch below a
   * persistent block is only reclaimed with it.
   */
  static alloc(n: number, unsigned: boolean): ResidentBytes {
    const bytes = Math.ceil((n + SLACK) / 64) * 64;
    const ptr = free.get(bytes)?.pop();
    if (ptr !== undefined) {
      freeBytes -= bytes;
      return new ResidentBytes(ptr, n, unsigned, bytes);
    }
    return new ResidentBytes(kernels().arena.allocPersistent(bytes), n, unsigned, bytes);
  }

  /** A view of the elements, valid until the next WASM allocation (memory growth detaches it). */
  view(): Int8Array | Uint8Array {
    if (!this.block.live) throw new Error('a resident activation was read after it was freed');
    const buffer = kernels().exports.memory.buffer;
    return this.unsigned ? new Uint8Array(buffer, this.ptr, this.length) : new Int8Array(buffer, this.ptr, this.length);
  }

  /**
   * A copy on the host in memory of its own. Not one of host-buffers' reusable buffers: the
   * executor counts the holders of those by the values it computes, and the downloaded copy
   * becomes the data of this tensor after it was counted (a Reshape of it would give the
   * buffer back while this tensor may still be read).
   */
  read(): Promise<Int8Array | Uint8Array> {
    if (!this.block.live) return Promise.reject(new Error('a resident activation was read after it was freed'));
    return Promise.resolve(this.view().slice());
  }

  dispose(): void {
    lost.unregister(this);
    giveBack(this.block);
  }
}

/**
 * The pointer of an 8-bit array that is already in WASM memory with SLACK readable bytes after
 * it (a view of a resident activation), else undefined. Take it before any allocation: growth
 * detaches the view.
 */
export function residentPointer(a: Int8Array | Uint8Array): number | undefined {
  const buffer = kernels().exports.memory.buffer;
  return a.buffer === buffer && a.byteOffset + a.length + SLACK <= buffer.byteLength ? a.byteOffset : undefined;
}

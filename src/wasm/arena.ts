/**
 * The only allocator in WASM memory. A bump arena: callers take a mark, allocate what one
 * kernel call needs, and release back to the mark. Kernels never allocate themselves.
 * Views into memory must be re-made after any allocation (growth detaches the buffer).
 */
export class WasmArena {
  private top: number;
  private readonly base: number;
  /** live persistent blocks: pointer -> end */
  private readonly persistent = new Map<number, number>();
  /** scratch never drops below the end of the highest live persistent block */
  private floor: number;
  private readonly finalizer = new FinalizationRegistry<number>((ptr) => this.freePersistent(ptr));

  constructor(
    readonly memory: WebAssembly.Memory,
    heapBase: number,
  ) {
    this.base = alignUp(heapBase, 64);
    this.top = this.base;
    this.floor = this.base;
  }

  /** Bytes allocated now. */
  get used(): number {
    return this.top - this.base;
  }

  /** Reserve `bytes` (aligned to 64 bytes, a cache line) and return the pointer. */
  alloc(bytes: number): number {
    const ptr = this.top;
    const end = alignUp(ptr + Math.max(bytes, 0), 64);
    if (end > 0xffff0000) throw new RangeError(`WASM memory exhausted: need ${end} bytes (limit 4 GiB)`);
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / 65536));
    this.top = end;
    return ptr;
  }

  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    if (mark < this.base || mark > this.top) throw new RangeError('arena release to a mark that is not live');
    this.top = Math.max(mark, this.floor);
  }

  /**
   * Memory that outlives scopes (packed weights reused on every run). Freed by
   * freePersistent, or when `owner` is garbage-collected. Allocate persistent blocks
   * before a scope's scratch: scratch below a persistent block is only reclaimed with it.
   */
  allocPersistent(bytes: number, owner?: object): number {
    const ptr = this.alloc(bytes);
    this.persistent.set(ptr, this.top);
    this.floor = Math.max(this.floor, this.top);
    if (owner) this.finalizer.register(owner, ptr);
    return ptr;
  }

  freePersistent(ptr: number): void {
    if (!this.persistent.delete(ptr)) return;
    let floor = this.base;
    for (const end of this.persistent.values()) floor = Math.max(floor, end);
    this.floor = floor;
  }

  /** Bytes held by persistent blocks (for tests and memory reports). */
  get persistentBytes(): number {
    let n = 0;
    for (const [p, e] of this.persistent) n += e - p;
    return n;
  }

  /** Run `fn` and free everything it allocated. */
  scoped<T>(fn: () => T): T {
    const m = this.mark();
    try {
      return fn();
    } finally {
      this.release(m);
    }
  }

  /** Copy `src` into fresh arena memory; returns its pointer. */
  copyIn(src: ArrayBufferView): number {
    const ptr = this.alloc(src.byteLength);
    new Uint8Array(this.memory.buffer, ptr, src.byteLength).set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
    return ptr;
  }

  u8(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, n);
  }
  i8(ptr: number, n: number): Int8Array {
    return new Int8Array(this.memory.buffer, ptr, n);
  }
  u16(ptr: number, n: number): Uint16Array {
    return new Uint16Array(this.memory.buffer, ptr, n);
  }
  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }
  u32(ptr: number, n: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, ptr, n);
  }
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }
  f64(ptr: number, n: number): Float64Array {
    return new Float64Array(this.memory.buffer, ptr, n);
  }
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

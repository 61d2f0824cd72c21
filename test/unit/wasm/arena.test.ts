import { describe, expect, it } from 'vitest';
import { WasmArena } from '../../../src/wasm/arena.js';

describe('WasmArena', () => {
  it('releases scratch to the mark, grows memory, and keeps persistent blocks alive across scopes', () => {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 1000 });
    const a = new WasmArena(mem, 100);
    const m = a.mark();
    const p1 = a.alloc(10);
    expect(p1 % 64).toBe(0);
    a.alloc(200_000); // forces growth
    expect(mem.buffer.byteLength).toBeGreaterThanOrEqual(200_000);
    a.release(m);
    expect(a.used).toBe(0);

    let keep = 0;
    a.scoped(() => {
      keep = a.allocPersistent(1000);
      a.f32(keep, 4).set([1, 2, 3, 4]);
      a.alloc(5000);
    });
    expect(a.persistentBytes).toBe(1024);
    const s = a.scoped(() => a.alloc(64));
    expect(s).toBeGreaterThanOrEqual(keep + 1000);
    expect([...a.f32(keep, 4)]).toEqual([1, 2, 3, 4]);
    a.freePersistent(keep);
    a.release(m);
    expect(a.used).toBe(0);
    expect(() => a.release(m + 1_000_000)).toThrow(RangeError);
  });
});

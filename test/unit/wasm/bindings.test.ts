// The hand-written bindings (src/wasm/bindings.ts) against the built module: the same exports,
// each with the declared number of parameters (the compiler already holds KERNEL_ARITY to the
// declared signatures).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KERNEL_ARITY } from '../../../src/wasm/bindings.js';
import { kernels } from '../../../src/wasm/loader.js';

describe('kernel bindings', () => {
  it('declare exactly the exports of build/kernels.wasm', () => {
    const module = new WebAssembly.Module(readFileSync(new URL('../../../build/kernels.wasm', import.meta.url)));
    const exported = WebAssembly.Module.exports(module);
    expect(exported.filter((e) => e.kind === 'memory').map((e) => e.name)).toEqual(['memory']);
    expect(exported.filter((e) => e.kind === 'function').map((e) => e.name).sort()).toEqual(Object.keys(KERNEL_ARITY).sort());
    expect(exported.filter((e) => e.kind !== 'function' && e.kind !== 'memory')).toEqual([]);
  });

  it('give every function its parameter count', () => {
    const { exports } = kernels();
    for (const [name, arity] of Object.entries(KERNEL_ARITY)) {
      const fn = exports[name as keyof typeof KERNEL_ARITY] as unknown as (...args: number[]) => unknown;
      expect(fn.length, name).toBe(arity);
    }
  });
});

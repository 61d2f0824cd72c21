// JS owns all allocation in WASM memory (src/wasm/arena.ts); kernels never call `new`.
// The arena starts above the static data, which ends at __heap_base.
export function heapBase(): usize {
  return __heap_base;
}

import { WasmArena } from './arena.js';
import type { KernelExports } from './bindings.js';

export type { KernelExports } from './bindings.js';

export interface Kernels {
  readonly exports: KernelExports;
  readonly arena: WasmArena;
}

const WASM_URL = new URL('../../build/kernels.wasm', import.meta.url);

let loaded: Kernels | undefined;
let loading: Promise<Kernels> | undefined;

function instantiate(module: WebAssembly.Module): Kernels {
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort(_msg: number, _file: number, line: number, col: number) {
        throw new Error(`WASM kernel aborted at ${line}:${col}`);
      },
      seed: () => 42,
    },
  });
  const exports = instance.exports as unknown as KernelExports;
  return { exports, arena: new WasmArena(exports.memory, exports.heapBase()) };
}

type NodeFs = { readFileSync(p: URL): Uint8Array };

function nodeFs(): NodeFs | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return proc?.getBuiltinModule?.('node:fs') as NodeFs | undefined;
}

/**
 * Where to find kernels.wasm: a URL (or string), its bytes, or a compiled module. By default
 * it is `build/kernels.wasm` of the package; a browser bundle that moves files passes the URL
 * it serves the file at.
 */
export type KernelSource = URL | string | BufferSource | WebAssembly.Module;

async function compileFrom(source: KernelSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof URL || typeof source === 'string') {
    const url = source instanceof URL ? source : new URL(source, (globalThis as { location?: { href: string } }).location?.href ?? WASM_URL);
    const fs = nodeFs();
    if (fs && url.protocol === 'file:') return WebAssembly.compile(fs.readFileSync(url) as BufferSource);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`cannot load WASM kernels from ${url}: HTTP ${response.status}`);
    return WebAssembly.compile(await response.arrayBuffer());
  }
  return WebAssembly.compile(source);
}

/** Load the kernel module (once). Works in Node and browsers. */
export async function initKernels(source: KernelSource = WASM_URL): Promise<Kernels> {
  if (loaded) return loaded;
  loading ??= (async () => {
    const module = await compileFrom(source);
    loaded ??= instantiate(module);
    return loaded;
  })().catch((e: unknown) => {
    loading = undefined; // a failed fetch may be retried with another source
    throw e;
  });
  return loading;
}

/**
 * The loaded kernels. In Node this loads synchronously on first use; in a browser call
 * `await initKernels()` first (the public API does that for you).
 */
export function kernels(): Kernels {
  if (loaded) return loaded;
  const fs = nodeFs();
  if (!fs) throw new Error('WASM kernels are not loaded yet: await initKernels() first');
  loaded = instantiate(new WebAssembly.Module(fs.readFileSync(WASM_URL) as BufferSource));
  return loaded;
}

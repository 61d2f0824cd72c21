// --backend for the commands that run a model: wasm (default), webgpu (the GPU for the ops it
// has, wasm for the rest; an error when there is no GPU, as the user asked for it), or auto
// (webgpu when an adapter exists, else wasm with a note saying why).
import { UsageError } from '../ir/errors.js';
import { webgpuAvailable } from '../webgpu/backend.js';

export const BACKEND_HELP = `  --backend B         wasm (default), webgpu (GPU for Conv, Gemm/MatMul, elementwise, pools,
                      Concat; wasm for the rest; an error without a GPU) or auto (webgpu when
                      a GPU adapter exists, for ops large enough to pay for the transfer; else wasm)`;

/** RunOptions.backends for a --backend value (undefined: the default, wasm). */
export async function resolveBackend(value: string | undefined, command: string, note: (s: string) => void): Promise<string[] | undefined> {
  if (value === undefined || value === 'wasm') return value === undefined ? undefined : ['wasm'];
  if (value === 'webgpu') return ['webgpu', 'wasm'];
  if (value === 'auto') {
    const a = await webgpuAvailable();
    if (a.available) {
      note(`backend: webgpu on ${a.adapter} (ops of little work on host inputs stay on wasm)`);
      return ['webgpu-auto', 'wasm'];
    }
    note(`backend: wasm (${a.reason})`);
    return ['wasm'];
  }
  throw new UsageError(`${command}: --backend must be wasm, webgpu or auto, got '${value}'`);
}

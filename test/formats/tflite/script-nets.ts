// The PyTorch / ONNX nets a fixture script writes (ensureScriptFixtures): each folder's model.onnx
// read into the IR, with its input0.npy and the framework's output0_<k>.npy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readModel } from '../../../src/formats/registry.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';

/** A loader of `script`'s nets (cached in .fixtures-cache/<cache>), `nets` giving each one's output count. */
export function scriptNets<Net extends string>(script: string, cache: string, nets: Readonly<Record<Net, number>>): (name: Net) => Promise<{ graph: Graph; input: Tensor; outputs: Tensor[] }> {
  const dir = (): string => ensureScriptFixtures(script, cache, Object.keys(nets));
  return async (name) => {
    const d = join(dir(), name);
    const npy = (f: string) => readNpy(readFileSync(join(d, `${f}.npy`)));
    const m = await readModel(new Uint8Array(readFileSync(join(d, 'model.onnx'))), { fileName: `${name}.onnx` });
    return { graph: (m as { graph: Graph }).graph, input: npy('input0'), outputs: Array.from({ length: nets[name] }, (_, i) => npy(`output0_${i}`)) };
  };
}

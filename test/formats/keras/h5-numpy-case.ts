// One net of a fixture script that writes DIR/<net>/model.h5 with its inputs (<name>.npy) and the
// output NumPy computes (y.npy): the model read by nnport and run on those inputs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../../../src/formats/numpy/index.js';
import type { LoadedModel } from '../../../src/formats/model.js';
import { loadModel, run } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';

export interface H5NumpyCase {
  bytes: Uint8Array;
  feeds: Record<string, Tensor>;
  want: Tensor;
  model: LoadedModel;
  /** nnport's first output on `feeds` */
  got: Tensor;
  /** the model read again with its inputs fixed to the fed shapes (a .tflite for this batch) */
  fixed: () => Promise<LoadedModel>;
}

export async function h5NumpyCase(dir: string, net: string, inputs: readonly string[] = ['x']): Promise<H5NumpyCase> {
  const bytes = readFileSync(join(dir, net, 'model.h5'));
  const feeds: Record<string, Tensor> = Object.fromEntries(inputs.map((n) => [n, readNpy(readFileSync(join(dir, net, `${n}.npy`)))]));
  const want = readNpy(readFileSync(join(dir, net, 'y.npy')));
  const model = await loadModel(bytes, { fileName: `${net}.h5` });
  const got = [...(await run(model, feeds)).outputs.values()][0]!;
  const fixed = () => loadModel(bytes, { fileName: `${net}.h5`, inputShapes: Object.fromEntries(inputs.map((n) => [n, [...feeds[n]!.shape]])) });
  return { bytes, feeds, want, model, got, fixed };
}

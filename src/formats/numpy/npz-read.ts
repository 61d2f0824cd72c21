import { FormatError } from '../../ir/errors.js';
import type { Tensor } from '../../ir/tensor.js';
import { ZipReader } from '../../io/zip.js';
import type { WeightsModel } from '../model.js';
import { readNpy } from './npy-read.js';

/** Every `<name>.npy` in an .npz archive (stored or deflated, as np.savez / savez_compressed write). */
export function readNpz(bytes: Uint8Array, fileName = '<npz>'): Map<string, Tensor> {
  const zip = ZipReader.open(bytes, fileName);
  const out = new Map<string, Tensor>();
  for (const name of zip.entries.keys()) {
    if (!name.endsWith('.npy')) throw new FormatError(`.npz entry '${name}' is not a .npy array`, { file: fileName });
    out.set(name.slice(0, -4), readNpy(zip.read(name), `${fileName}:${name}`));
  }
  return out;
}

export function readNpzModel(bytes: Uint8Array, fileName?: string): WeightsModel {
  return { kind: 'weights', format: 'npz', tensors: readNpz(bytes, fileName), containers: [''], selected: '' };
}

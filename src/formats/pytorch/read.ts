// PyTorch checkpoints (torch.save), read without Python and without executing anything:
// the zip format (torch >= 1.6) here, the legacy format in legacy.ts.
import { DTYPES } from '../../ir/dtypes.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { ZipReader, isZip } from '../../io/zip.js';
import type { ReadOptions, WeightsModel } from '../model.js';
import { readPytorchLegacy } from './legacy.js';
import { toWeightsModel } from './materialize.js';
import { unpickle } from './pickle.js';
import { torchGlobals, type StorageRef, type TorchPickleContext } from './torch-globals.js';

export interface PytorchReadOptions {
  fileName?: string;
  /** container path to select in a nested checkpoint (e.g. 'model'); default: the likeliest state dict */
  key?: string;
}

/** Read a .pth/.pt file (zip or legacy format) into a flat name -> Tensor map plus its container paths. */
export function readPytorch(bytes: Uint8Array, options: PytorchReadOptions | ReadOptions = {}): WeightsModel {
  if (isZip(bytes)) return readPytorchZip(bytes, options);
  return readPytorchLegacy(bytes, options);
}

/** The zip format: `<archive>/data.pkl` with persistent ids naming `<archive>/data/<key>` entries. */
export function readPytorchZip(bytes: Uint8Array, options: PytorchReadOptions = {}): WeightsModel {
  const file = options.fileName ?? '<bytes>';
  const zip = ZipReader.open(bytes, file);
  const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n) || n === 'data.pkl');
  if (pkls.length === 0) {
    if ([...zip.entries.keys()].some((n) => n.endsWith('.npy'))) throw new FormatError('this zip holds .npy files: it is a NumPy .npz archive, not a PyTorch checkpoint', { file });
    throw new FormatError('not a PyTorch checkpoint: the zip archive has no data.pkl', { file });
  }
  if (pkls.length > 1) throw new FormatError(`PyTorch archive holds ${pkls.length} data.pkl records`, { file });
  const prefix = pkls[0]!.slice(0, -'data.pkl'.length);
  if ([...zip.entries.keys()].some((n) => n.startsWith(`${prefix}code/`) || n === `${prefix}constants.pkl`)) {
    throw new UnsupportedError('TorchScript archives', `'${file}' was written by torch.jit.save; load it in PyTorch and save model.state_dict() with torch.save instead`);
  }
  const order = zip.has(`${prefix}byteorder`) ? new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim() : 'little';
  if (order !== 'little') throw new UnsupportedError('big-endian PyTorch archives', `'${file}' was written with byteorder '${order}'`);

  const ctx: TorchPickleContext = { source: 'data.pkl', file, storages: new Map(), legacy: false };
  const { value } = unpickle(zip.read(pkls[0]!), torchGlobals(ctx), { source: 'data.pkl', file });

  const cache = new Map<string, Uint8Array>();
  const storageBytes = (ref: StorageRef): Uint8Array => {
    let data = cache.get(ref.key);
    if (!data) {
      const name = `${prefix}data/${ref.key}`;
      const entry = zip.entries.get(name);
      if (!entry) throw new FormatError(`storage '${ref.key}' points to '${name}', which is not in the archive`, { file });
      const es = ref.dtype ? DTYPES[ref.dtype].bytes : 1;
      // Check the claim against the directory before inflating or viewing anything.
      if (ref.numel * es > entry.size) {
        throw new FormatError(`storage '${ref.key}' claims ${ref.numel} elements (${ref.numel * es} bytes) but its entry holds ${entry.size} bytes`, { file });
      }
      data = zip.read(name).subarray(0, ref.numel * es);
      cache.set(ref.key, data);
    }
    return data;
  };
  return toWeightsModel(value, 'pytorch-zip', storageBytes, file, options.key, bytes.byteLength, zip.budget);
}

// The legacy torch.save format (torch < 1.6, or _use_new_zipfile_serialization=False):
// pickled magic number, protocol version and sys info, then the object pickle, then a pickled
// list of storage keys followed by each storage as an int64 element count and its raw bytes.
import { DTYPES } from '../../ir/dtypes.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import type { WeightsModel } from '../model.js';
import { toWeightsModel } from './materialize.js';
import { PyDict, pyText, unpickle, type PickleGlobals } from './pickle.js';
import { torchGlobals, type StorageRef, type TorchPickleContext } from './torch-globals.js';

export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** Header pickles hold only plain values: every global is refused. */
function plainGlobals(file: string, source: string): PickleGlobals {
  return {
    resolve(module, name) {
      throw new FormatError(`refusing to load global '${module}.${name}' from ${source}: only tensors and plain containers are allowed`, { file });
    },
    call() {
      throw new FormatError(`${source}: nothing may be called here`, { file });
    },
  };
}

export function readPytorchLegacy(bytes: Uint8Array, options: { fileName?: string; key?: string } = {}): WeightsModel {
  const file = options.fileName ?? '<bytes>';
  if (bytes.byteLength > 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar') {
    throw new UnsupportedError('tar-format PyTorch checkpoints (torch < 0.4)', `re-save '${file}' with a newer PyTorch`);
  }
  if (bytes.byteLength < 2 || bytes[0] !== 0x80) throw new FormatError('not a PyTorch checkpoint (neither a zip archive nor a pickle)', { file });
  const header = (start: number, what: string) => unpickle(bytes, plainGlobals(file, what), { source: what, file }, start);
  const magic = header(0, 'the magic number pickle');
  if (magic.value !== LEGACY_MAGIC) {
    throw new FormatError('a pickle without the PyTorch magic number: not a torch.save file (plain pickles are not read, they can run code)', { file });
  }
  const proto = header(magic.end, 'the protocol pickle');
  if (proto.value !== LEGACY_PROTOCOL) throw new UnsupportedError('legacy PyTorch protocol', `'${file}' uses protocol ${pyText(proto.value)}, expected ${LEGACY_PROTOCOL}`);
  const sys = header(proto.end, 'the sys_info pickle');
  if (sys.value instanceof PyDict && sys.value.map.get('little_endian') === false) throw new UnsupportedError('big-endian PyTorch checkpoints');

  const ctx: TorchPickleContext = { source: 'the checkpoint pickle', file, storages: new Map(), legacy: true };
  const main = unpickle(bytes, torchGlobals(ctx), { source: 'the checkpoint pickle', file }, sys.end);
  const keysPickle = header(main.end, 'the storage key list');
  const keys = keysPickle.value;
  if (!Array.isArray(keys)) throw new FormatError('legacy checkpoint: storage key list is not a list', { file, offset: main.end });

  // Storages follow in key order: an int64 element count, then the elements.
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const roots = new Map<string, Uint8Array>();
  let pos = keysPickle.end;
  for (const k of keys) {
    // keys are names or numbers; String() of a list could be exponentially long
    if (typeof k !== 'string' && typeof k !== 'number') throw new FormatError(`legacy checkpoint: storage key ${pyText(k)} is not a name`, { file, offset: pos });
    const key = String(k);
    const ref = ctx.storages.get(key);
    if (!ref) throw new FormatError(`legacy checkpoint lists storage '${key}' that no tensor uses`, { file, offset: pos });
    if (pos + 8 > bytes.byteLength) throw new FormatError(`legacy checkpoint is truncated before storage '${key}'`, { file, offset: pos });
    const numel = dv.getBigInt64(pos, true);
    pos += 8;
    const es = ref.dtype ? DTYPES[ref.dtype].bytes : 1;
    const left = bytes.byteLength - pos;
    if (numel < 0n || numel * BigInt(es) > BigInt(left)) {
      throw new FormatError(`storage '${key}' claims ${numel} elements (${numel * BigInt(es)} bytes) but only ${left} bytes remain`, { file, offset: pos - 8 });
    }
    if (Number(numel) !== ref.numel) throw new FormatError(`storage '${key}' holds ${numel} elements, its tensors claim ${ref.numel}`, { file, offset: pos - 8 });
    const n = Number(numel) * es;
    roots.set(key, bytes.subarray(pos, pos + n));
    pos += n;
  }
  const storageBytes = (ref: StorageRef): Uint8Array => {
    const root = roots.get(ref.key);
    if (!root) throw new FormatError(`storage '${ref.key}' is not in the checkpoint's storage section`, { file });
    if (!ref.view) return root;
    const es = ref.dtype ? DTYPES[ref.dtype].bytes : 1;
    if ((ref.view.offset + ref.view.size) * es > root.byteLength) throw new FormatError(`storage view of '${ref.key}' lies outside it`, { file });
    return root.subarray(ref.view.offset * es, (ref.view.offset + ref.view.size) * es);
  };
  return toWeightsModel(main.value, 'pytorch-legacy', storageBytes, file, options.key, bytes.byteLength);
}

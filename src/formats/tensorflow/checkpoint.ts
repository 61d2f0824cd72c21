// TensorFlow checkpoints: a tensor bundle (V2: `<prefix>.index` + `<prefix>.data-*`), named by
// its prefix, its .index, or its folder's `checkpoint` file; or a legacy V1 checkpoint (one
// SaveSlices table per shard, TF < 0.12: checkpoint-v1.ts), named by any of its shards.
import { FormatError, NnportError } from '../../ir/errors.js';
import type { Tensor } from '../../ir/tensor.js';
import type { ModelFileSet, ReadOptions, WeightsModel } from '../model.js';
import { bundleTensor, readBundleIndex, shardName, type Bundle } from './bundle.js';
import { isV1Table, readV1Shard, v1Bundle, v1Checkpoint, v1ShardNames, v1Tensor } from './checkpoint-v1.js';
import { variableListing } from './listings.js';

/** Reads the files of a multi-file TF model by name relative to the primary file's folder. */
export interface SiblingFiles {
  /** the primary file's name (for messages) */
  file: string;
  read(name: string): Promise<Uint8Array>;
  list?(): Promise<string[]>;
}

export function siblingFiles(options: ReadOptions): SiblingFiles {
  const file = options.fileName ?? '<bytes>';
  const files: ModelFileSet | undefined = options.files;
  const sib = options.readSibling;
  // a companion that cannot be read is a typed error naming it, whatever the file source threw
  const guarded = async (n: string, read: (n: string) => Promise<Uint8Array>) => {
    try {
      return await read(n);
    } catch (e) {
      if (e instanceof NnportError) throw e;
      throw new FormatError(`cannot read its companion file '${n}': ${e instanceof Error ? e.message : String(e)}`, { file }, { cause: e });
    }
  };
  if (files) return { file, read: (n) => guarded(n, (x) => files.read(x)), list: () => files.list() };
  return {
    file,
    read: async (n) => {
      if (!sib) throw new FormatError(`needs its companion file '${n}', and only the bytes of one file were given`, { file });
      return guarded(n, sib);
    },
  };
}

/** The parts of a path: folder ('' or ending in '/') and base name. */
export function splitPath(p: string): [string, string] {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return [p.slice(0, i + 1), p.slice(i + 1)];
}

/** Optimizer state kept beside each variable: Adam/Momentum/RMSProp slots, beta powers, step counters. */
export function isOptimizerSlot(name: string): boolean {
  return /(\/(Adam|Adam_\d+|Momentum|RMSProp(_\d+)?|Adagrad|Ftrl(_\d+)?|Adadelta(_\d+)?)$)|(^|\/)(beta[12]_power|global_step)$|\.OPTIMIZER_SLOT\/|^optimizer\//.test(name);
}

export interface Checkpoint {
  /** the tensors' names, dtypes and shapes (a V1 checkpoint's listed as a bundle's) */
  bundle: Bundle;
  /** `<prefix>` relative to the primary file's folder */
  prefix: string;
  /** every tensor by name, read and checked */
  tensors(): Promise<Map<string, Tensor>>;
  tensor(name: string): Promise<Tensor>;
}

/** Open a checkpoint from its .index bytes; data shards are read through `files` on demand. */
export function openCheckpoint(indexBytes: Uint8Array, prefix: string, files: SiblingFiles, indexName: string): Checkpoint {
  const bundle = (() => {
    try {
      return readBundleIndex(indexBytes, indexName);
    } catch (e) {
      if (isV1Table(indexBytes)) throw new FormatError("is a legacy V1 checkpoint table, not a V2 bundle's .index; name the V1 checkpoint by its own file (no .index)", { file: indexName });
      throw e;
    }
  })();
  const cache = new Map<number, Promise<Uint8Array>>();
  const shard = (i: number): Promise<Uint8Array> => {
    if (!Number.isInteger(i) || i < 0 || i >= bundle.numShards) throw new FormatError(`checkpoint entry names data shard ${i}, the header has ${bundle.numShards}`, { file: indexName });
    let p = cache.get(i);
    if (!p) cache.set(i, (p = files.read(shardName(prefix, i, bundle.numShards))));
    return p;
  };
  const tensor = (name: string) => bundleTensor(bundle, name, shard, indexName);
  return {
    bundle,
    prefix,
    tensor,
    async tensors() {
      const out = new Map<string, Tensor>();
      for (const name of bundle.entries.keys()) out.set(name, await tensor(name));
      return out;
    },
  };
}

/**
 * A legacy V1 checkpoint from its shard files (`names`, relative to the primary file's folder;
 * `given` the bytes of one already read). Every shard is read and its table checked up front.
 */
export async function openV1Checkpoint(names: string[], files: SiblingFiles, given?: { name: string; bytes: Uint8Array }): Promise<Checkpoint> {
  const shards = [];
  for (const name of names) shards.push(readV1Shard(name === given?.name ? given.bytes : await files.read(name), name));
  const ck = v1Checkpoint(shards);
  const bundle = v1Bundle(ck);
  const tensor = async (name: string) => v1Tensor(ck, name, names[0]!);
  return {
    bundle,
    prefix: names[0]!.replace(/-\d{5}-of-\d{5}$/, ''),
    tensor,
    async tensors() {
      const out = new Map<string, Tensor>();
      for (const name of ck.tensors.keys()) out.set(name, await tensor(name));
      return out;
    },
  };
}

/** `model_checkpoint_path: "..."` of a `checkpoint` state file. */
export function parseCheckpointState(text: string, file: string): string {
  const m = /^model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"/m.exec(text);
  if (!m) throw new FormatError('no model_checkpoint_path in the checkpoint state file', { file });
  return m[1]!.replace(/\\(.)/g, '$1');
}

/** Read a checkpoint given by its .index file (the tensors as a weights model). */
export async function readCheckpointIndex(bytes: Uint8Array, options: ReadOptions = {}): Promise<WeightsModel> {
  const file = options.fileName ?? '<bytes>';
  const [, base] = splitPath(file);
  const files = siblingFiles(options);
  if (!/\.index$/i.test(base) && isV1Table(bytes)) {
    // a legacy V1 checkpoint: this shard and the others its name counts (`-00000-of-00002`)
    const ckpt = await openV1Checkpoint(v1ShardNames(base), files, { name: base, bytes });
    const tensors = await ckpt.tensors();
    const metadata: Record<string, string> = { shards: String(ckpt.bundle.numShards), version: 'V1 (SaveSlices tables)' };
    return { kind: 'weights', format: 'tf-checkpoint-index', tensors, metadata, listings: [variableListing(ckpt.bundle)] };
  }
  if (!/\.index$/i.test(base)) throw new FormatError('a checkpoint index must be named <prefix>.index (its data files are <prefix>.data-*)', { file });
  const prefix = base.replace(/\.index$/i, '');
  const ckpt = openCheckpoint(bytes, prefix, files, file);
  const tensors = await ckpt.tensors();
  const slots = [...tensors.keys()].filter(isOptimizerSlot);
  const metadata: Record<string, string> = { shards: String(ckpt.bundle.numShards) };
  if (slots.length) metadata['optimizer slots'] = slots.join(', ');
  return { kind: 'weights', format: 'tf-checkpoint-index', tensors, metadata, listings: [variableListing(ckpt.bundle)] };
}

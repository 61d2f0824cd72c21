// Hostile-but-well-formed HDF5 files (Keras .h5) for the semantic fuzzer, written by h5wasm
// from a small description: every file is valid HDF5; what makes it hostile is what it claims
// (datasets whose shape is far larger than their storage: chunks never written, or compressed;
// model configs with huge, negative or nested numbers; cyclic or deep topologies; weight names
// that point nowhere; weights of the wrong element type; huge attributes).
import h5wasm, { guess_metadata, type File as H5File, type Group } from 'h5wasm';
import { quietly as quietH5, type H5Module as H5WriterModule } from '../../src/formats/keras/hdf5.js';

/** The parts of h5wasm's module used directly: the .h5 writer's (a dataset created without data, hyperslab writes), and reading back the in-memory file. */
interface H5Module extends Omit<H5WriterModule, 'FS'> {
  FS: H5WriterModule['FS'] & { readFile(path: string): Uint8Array; unlink(path: string): void };
}

let mod: H5Module | undefined;

/** Load h5wasm; the generators below are synchronous once it is. */
export async function h5Ready(): Promise<void> {
  mod = (await h5wasm.ready) as unknown as H5Module;
}

function module(): H5Module {
  if (!mod) throw new Error('call h5Ready() first');
  return mod;
}

/** Element types by h5wasm dtype string. */
const ELEMENT: Record<string, { bytes: number; array: new (n: number) => ArrayLike<number> & { buffer: ArrayBufferLike } }> = {
  '<f4': { bytes: 4, array: Float32Array },
  '<f8': { bytes: 8, array: Float64Array },
  '|i1': { bytes: 1, array: Int8Array },
  '|u1': { bytes: 1, array: Uint8Array },
  '<i2': { bytes: 2, array: Int16Array },
  '<u2': { bytes: 2, array: Uint16Array },
  '<i4': { bytes: 4, array: Int32Array },
  '<u4': { bytes: 4, array: Uint32Array },
};

export type H5Dtype = keyof typeof ELEMENT | '<i8' | '<u8';

export interface H5Dataset {
  kind: 'dataset';
  /** absolute path; missing parent groups are created */
  path: string;
  dtype: H5Dtype;
  shape: number[];
  /**
   * what is stored: every element (small shapes only), none (the dataset's storage is never
   * allocated: any shape reads as the fill value, the file stays tiny), or only the first chunk
   */
  written: 'all' | 'none' | 'first chunk';
  chunks?: number[];
  /** gzip level (needs chunks) */
  gzip?: number;
}

/** A dataset of strings or of a compound type (weights of the wrong kind). */
export interface H5OddDataset {
  kind: 'odd dataset';
  path: string;
  value: 'strings' | 'compound' | 'scalar' | 'empty';
}

export type H5Item =
  | { kind: 'group'; path: string }
  | H5Dataset
  | H5OddDataset
  | { kind: 'soft link'; path: string; target: string }
  | { kind: 'hard link'; path: string; target: string }
  | { kind: 'external link'; path: string; file: string; target: string };

/** An attribute on the group or dataset at `path`. `dtype` as h5wasm takes it ('S12': fixed-length string). */
export interface H5Attr {
  path: string;
  name: string;
  value: string | string[] | number[] | Float32Array | Int32Array | BigInt64Array;
  dtype?: string;
}

let counter = 0;

/** HDF5 prints a failed call's error stack to stderr: a dataset created without data fails its write on purpose. */
const quietly = <T>(fn: () => T): T => quietH5(module(), fn);

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function groupAt(f: H5File, path: string): Group {
  if (path === '/') return f;
  const parent = groupAt(f, parentOf(path));
  const g = parent.get(baseOf(path));
  if (g && 'keys' in g) return g as Group;
  return parent.create_group(baseOf(path));
}

function dataset(f: H5File, d: H5Dataset): void {
  const m = module();
  const g = groupAt(f, parentOf(d.path));
  const n = d.shape.reduce((a, b) => a * b, 1);
  const el = ELEMENT[d.dtype];
  if (d.written === 'all') {
    if (n > 1 << 20) throw new Error(`generator: ${n} elements written in full`);
    const data = el ? new el.array(n) : d.dtype === '<i8' ? new BigInt64Array(n) : new BigUint64Array(n);
    for (let i = 0; i < n; i++) (data as unknown as number[])[i] = (el ? (i % 7) - 3 : BigInt(i % 7)) as number;
    g.create_dataset({ name: baseOf(d.path), data: data as never, shape: d.shape, chunks: d.chunks ?? null, compression: d.gzip });
    return;
  }
  const probe = el ? new el.array(0) : d.dtype === '<i8' ? new BigInt64Array(0) : new BigUint64Array(0);
  const shape = d.shape.map(BigInt);
  const metadata = {
    ...(guess_metadata(probe as never) as object),
    shape,
    maxshape: shape,
    chunks: d.chunks?.map(BigInt) ?? null,
    compression: d.gzip ? 1 : 0,
    compression_opts: d.gzip ? [d.gzip] : [],
    track_order: false,
  };
  // created with no data, HDF5 makes the dataset and refuses only the write
  quietly(() => m.create_dataset(f.file_id, d.path, 0n, metadata));
  if (d.written === 'first chunk' && d.chunks) {
    const count = d.chunks.map((c, i) => Math.min(c, d.shape[i]!));
    const k = count.reduce((a, b) => a * b, 1);
    const bytes = k * (el?.bytes ?? 8);
    const ptr = m._malloc(bytes);
    try {
      for (let i = 0; i < bytes; i++) m.HEAPU8[ptr + i] = i % 3;
      m.set_dataset_data(f.file_id, d.path, count.map(BigInt), d.shape.map(() => 0n), d.shape.map(() => 1n), BigInt(ptr));
    } finally {
      m._free(ptr);
    }
  }
}

function oddDataset(f: H5File, d: H5OddDataset): void {
  const g = groupAt(f, parentOf(d.path));
  const name = baseOf(d.path);
  if (d.value === 'strings') g.create_dataset({ name, data: ['kernel', 'bias', 'x'.repeat(300)] });
  else if (d.value === 'compound') g.create_dataset({ name, data: [[1, 2.5], [3, 4.5]] as never, dtype: { compound_type: { members: [{ name: 'a', type: 0, size: 4, signed: true, littleEndian: true, offset: 0 }, { name: 'b', type: 1, size: 4, signed: false, littleEndian: true, offset: 4 }], nmembers: 2 }, type: 6, size: 8, littleEndian: true, signed: false, vlen: false, total_size: 2, shape: [2], maxshape: [2], chunks: null } as never });
  else if (d.value === 'scalar') g.create_dataset({ name, data: 3.5, shape: [] });
  else g.create_dataset({ name, data: new Float32Array(0), shape: [0, 3] });
}

/** The bytes of an HDF5 file holding `items` and `attrs`, built in h5wasm's in-memory file system. */
export function h5File(items: readonly H5Item[], attrs: readonly H5Attr[]): Uint8Array {
  const m = module();
  const path = `/hostile-${(counter++).toString(36)}.h5`;
  const f = new h5wasm.File(path, 'w');
  try {
    for (const item of items) {
      if (item.kind === 'group') groupAt(f, item.path);
      else if (item.kind === 'dataset') dataset(f, item);
      else if (item.kind === 'odd dataset') {
        try {
          oddDataset(f, item);
        } catch {
          // h5wasm refused this kind: the link then points nowhere, which is hostile too
        }
      } else if (item.kind === 'soft link') groupAt(f, parentOf(item.path)).create_soft_link(item.target, baseOf(item.path));
      else if (item.kind === 'hard link') quietly(() => groupAt(f, parentOf(item.path)).create_hard_link(item.target, baseOf(item.path)));
      else groupAt(f, parentOf(item.path)).create_external_link(item.file, item.target, baseOf(item.path));
    }
    for (const a of attrs) {
      const at = a.path === '/' ? f : (f.get(a.path) as Group | null);
      if (!at) throw new Error(`generator: no object at ${a.path}`);
      at.create_attribute(a.name, a.value as never, null, (a.dtype ?? null) as never);
    }
  } finally {
    f.close();
  }
  try {
    return new Uint8Array(m.FS.readFile(path));
  } finally {
    m.FS.unlink(path);
  }
}

/** One layer's weights in a Keras 2 `model.save()` file: model_weights/<layer>/<layer>/<role>:0. */
export interface KerasH5Layer {
  name: string;
  /** datasets by role; `path` is filled in */
  weights: { role: string; dataset: Omit<H5Dataset, 'kind' | 'path'> | Omit<H5OddDataset, 'kind' | 'path'> }[];
  /** the weight_names attribute (default: `<layer>/<role>:0` for each weight) */
  weightNames?: H5Attr['value'];
}

/**
 * A Keras 2 `.h5` (model.save layout): the model_config attribute (JSON text, or any attribute
 * value for a hostile one), model_weights with layer_names, and each layer's weights.
 */
export function kerasH5(config: unknown, layers: readonly KerasH5Layer[], more: { items?: H5Item[]; attrs?: H5Attr[]; configDtype?: string } = {}): Uint8Array {
  const items: H5Item[] = [{ kind: 'group', path: '/model_weights' }];
  const attrs: H5Attr[] = [
    { path: '/', name: 'keras_version', value: '2.15.0' },
    { path: '/', name: 'backend', value: 'tensorflow' },
    { path: '/', name: 'model_config', value: typeof config === 'string' || ArrayBuffer.isView(config) || Array.isArray(config) ? (config as H5Attr['value']) : JSON.stringify(config), dtype: more.configDtype },
    { path: '/model_weights', name: 'layer_names', value: layers.length ? layers.map((l) => l.name) : [''] },
  ];
  for (const l of layers) {
    const g = `/model_weights/${l.name}`;
    items.push({ kind: 'group', path: g });
    for (const w of l.weights) {
      const path = `${g}/${l.name}/${w.role}:0`;
      items.push('value' in w.dataset ? { kind: 'odd dataset', path, ...w.dataset } : { kind: 'dataset', path, ...w.dataset });
    }
    attrs.push({ path: g, name: 'weight_names', value: l.weightNames ?? (l.weights.length ? l.weights.map((w) => `${l.name}/${w.role}:0`) : new Float32Array(0)) });
  }
  return h5File([...items, ...(more.items ?? [])], [...attrs, ...(more.attrs ?? [])]);
}

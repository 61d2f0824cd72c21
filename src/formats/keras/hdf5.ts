// HDF5 through h5wasm: files are opened from bytes in h5wasm's in-memory file system (the same
// in Node and in browsers), and written there before their bytes are handed back.
import h5wasm, { type Dataset, type File as H5File, type Group } from 'h5wasm';
import type { DType, NumericArray } from '../../ir/dtypes.js';
import { FormatError, NnportError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';

interface MemFs {
  writeFile(path: string, data: Uint8Array): void;
  readFile(path: string): Uint8Array;
  unlink(path: string): void;
}

let counter = 0;

interface Tty {
  ops: { put_char(tty: unknown, c: number | null): void; fsync(tty: unknown): void };
}

let quiet = false;

async function memfs(): Promise<MemFs> {
  const module = (await h5wasm.ready) as unknown as { FS: MemFs & { getStream?(fd: number): { tty?: Tty } | null } };
  if (!quiet) {
    // HDF5 prints its error stack ("HDF5-DIAG: ...") to stderr; nnport reports one line itself
    const tty = module.FS.getStream?.(2)?.tty;
    if (tty) tty.ops = { ...tty.ops, put_char: () => {}, fsync: () => {} };
    quiet = true;
  }
  return module.FS;
}

function tempPath(): string {
  return `/nnport-${Date.now().toString(36)}-${(counter++).toString(36)}.h5`;
}

/** Open HDF5 bytes read-only, call `fn`, close and forget the file whatever happens. */
export async function withH5Bytes<T>(bytes: Uint8Array, file: string, fn: (f: H5File) => T): Promise<T> {
  const fs = await memfs();
  const path = tempPath();
  fs.writeFile(path, bytes);
  let f: H5File | undefined;
  try {
    try {
      f = new h5wasm.File(path, 'r');
      if (!f.file_id || f.file_id < 0n) throw new Error('H5Fopen failed');
    } catch (e) {
      throw new FormatError(`not a readable HDF5 file (truncated or corrupt): ${oneLine(e)}`, { file });
    }
    try {
      return fn(f);
    } catch (e) {
      // anything but our own typed errors is the HDF5 library tripping over the bytes (a wasm trap included)
      if (e instanceof NnportError) throw e;
      throw new FormatError(`HDF5 read failed (truncated or corrupt file): ${oneLine(e)}`, { file });
    }
  } finally {
    try {
      f?.close();
    } catch {
      /* already broken */
    }
    fs.unlink(path);
  }
}

/** Create an HDF5 file in memory, let `fn` fill it, return its bytes. */
export async function buildH5Bytes(fn: (f: H5File) => void): Promise<Uint8Array> {
  const fs = await memfs();
  const path = tempPath();
  const f = new h5wasm.File(path, 'w');
  try {
    fn(f);
  } finally {
    f.close();
  }
  try {
    return new Uint8Array(fs.readFile(path));
  } finally {
    fs.unlink(path);
  }
}

function oneLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0]!.slice(0, 200);
}

export function isGroup(x: unknown): x is Group {
  return x instanceof h5wasm.Group;
}

export function isDataset(x: unknown): x is Dataset {
  return x instanceof h5wasm.Dataset;
}

/** An attribute as a string (h5py writes JSON configs as fixed or variable-length strings). */
export function attrString(obj: Group | Dataset, name: string): string | undefined {
  const a = obj.attrs[name];
  if (!a) return undefined;
  const v = a.value;
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') return v[0];
  return undefined;
}

/** A list-of-strings attribute (layer_names, weight_names); an empty float array counts as []. */
export function attrStrings(obj: Group | Dataset, name: string): string[] | undefined {
  const a = obj.attrs[name];
  if (!a) return undefined;
  const v = a.value;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.map((x) => (x instanceof Uint8Array ? new TextDecoder().decode(x) : String(x)));
  if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<number>).length === 0) return [];
  return undefined;
}

const ARRAY_DTYPES: [new (...a: never[]) => NumericArray, DType][] = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Int8Array, 'int8'],
  [Uint8Array, 'uint8'],
  [Int16Array, 'int16'],
  [Uint16Array, 'uint16'],
  [Int32Array, 'int32'],
  [Uint32Array, 'uint32'],
  [BigInt64Array, 'int64'],
  [BigUint64Array, 'uint64'],
];

/** A numeric dataset as a tensor (float16 comes back from h5wasm as float32 values). */
export function datasetTensor(d: Dataset, file: string): Tensor {
  const shape = d.shape ?? [];
  const v = d.value;
  if (typeof v === 'number') return Tensor.float32([], [v]);
  for (const [ctor, dtype] of ARRAY_DTYPES) {
    if (v instanceof ctor) {
      if ((v as NumericArray).length !== shape.reduce((a, b) => a * b, 1)) throw new FormatError(`dataset '${d.path}' holds ${(v as NumericArray).length} values for shape [${shape.join(', ')}]`, { file });
      return new Tensor(dtype, shape, v as NumericArray);
    }
  }
  throw new FormatError(`dataset '${d.path}' is not a numeric array`, { file });
}

/** Create a dataset from a tensor, with the tensor's dtype and shape. */
export function writeTensor(g: Group, name: string, t: Tensor): void {
  const data = t.dtype === 'float32' || t.dtype === 'float64' || t.dtype.startsWith('int') || t.dtype.startsWith('uint') ? (t.data as NumericArray) : t.toFloat32();
  g.create_dataset({ name, data: data as never, shape: [...t.shape] });
}

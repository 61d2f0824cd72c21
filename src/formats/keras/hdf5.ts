// HDF5 through h5wasm: files are opened from bytes in h5wasm's in-memory file system (the same
// in Node and in browsers), and written there before their bytes are handed back, or (Node) written
// straight to a file on disk with h5wasm's Node build. Either way every dataset is written by one
// streaming routine, a slice of rows at a time, so a large weight is never whole in WASM memory.
import type { default as H5Wasm, Dataset, File as H5File, Group, guess_metadata } from 'h5wasm';
import { DTYPES, type DType, type NumericArray } from '../../ir/dtypes.js';
import { checkAllocation, ReadBudget } from '../../ir/budget.js';
import { FormatError, NnportError } from '../../ir/errors.js';
import { copyStrided, copyStridedFromBytes, isLazySource, sourceData, viewSlices, type PermutedView } from '../../ir/permuted-view.js';
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

/** h5wasm's in-memory build, loaded on first use (the CLI writing .h5 to disk never needs it). */
let h5wasm: typeof H5Wasm | undefined;
let guessMetadata: typeof guess_metadata | undefined;

async function memfs(): Promise<MemFs> {
  if (!h5wasm) {
    const lib = await import('h5wasm');
    h5wasm = lib.default;
    guessMetadata = lib.guess_metadata;
  }
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
      f = new h5wasm!.File(path, 'r');
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
export async function buildH5Bytes(fn: (f: H5File, datasets: DatasetWriter) => void): Promise<Uint8Array> {
  const fs = await memfs();
  const path = tempPath();
  const writer = new DatasetWriter((await h5wasm!.ready) as unknown as H5Module, guessMetadata!);
  const f = new h5wasm!.File(path, 'w');
  try {
    fn(f, writer);
  } finally {
    f.close();
  }
  try {
    return new Uint8Array(fs.readFile(path));
  } finally {
    fs.unlink(path);
  }
}

/** A specifier in a variable: browser bundlers must not follow it (the Node build imports node:module). */
const H5WASM_NODE = 'h5wasm/node';

/**
 * Node: create the HDF5 file at `path` on the real file system (h5wasm's Node build writes
 * through to it) and let `fn` fill it; nothing of the file is kept in memory.
 */
export async function writeH5File(path: string, fn: (f: H5File, datasets: DatasetWriter) => void, sliceElements = SLICE_ELEMENTS): Promise<void> {
  const lib = (await import(/* @vite-ignore */ H5WASM_NODE)) as { default: typeof H5Wasm; guess_metadata: typeof guess_metadata };
  const module = (await lib.default.ready) as unknown as H5Module;
  const writer = new DatasetWriter(module, lib.guess_metadata, sliceElements);
  // HDF5 buffers writes and reports a failed one (a full disk) only on its error stack, at a
  // flush or a close whose status h5wasm does not check: its stack is read from stderr here
  const diag = captureStderr(module);
  try {
    const f = new lib.default.File(path, 'w');
    if (!f.file_id || f.file_id < 0n) throw h5WriteError(path, diag.text(), 'cannot create the HDF5 file');
    let closed: number;
    try {
      fn(f, writer);
    } finally {
      closed = f.close();
    }
    const text = diag.text();
    if (closed < 0 || /error message = '/.test(text)) throw h5WriteError(path, text, 'HDF5 could not write the file');
  } finally {
    diag.stop();
  }
}

/** Messages HDF5's POSIX driver puts in its stack (strerror) -> the Node error code for them. */
const ERRNO_TEXT: Record<string, string> = {
  'No space left on device': 'ENOSPC',
  'Disk quota exceeded': 'EDQUOT',
  'File too large': 'EFBIG',
  'I/O error': 'EIO',
  'Input/output error': 'EIO',
  'Read-only file system': 'EROFS',
  'Permission denied': 'EACCES',
};

/** A failed HDF5 write as an error with the system's code where HDF5 named one (the writer names the output file). */
function h5WriteError(path: string, diag: string, what: string): Error {
  const cause = /error message = '([^']*)'/.exec(diag)?.[1];
  const code = cause ? ERRNO_TEXT[cause] : undefined;
  const e = new Error(`${what} ${path}${cause ? `: ${cause}` : ''}`);
  if (code) Object.assign(e, { code, path });
  return code ? e : new NnportError(e.message);
}

/** Collect what the module writes to stderr (fd 2) instead of printing it, until stop(). */
function captureStderr(module: H5Module): { text(): string; stop(): void } {
  const fs = module.FS;
  const write = fs.write;
  const parts: string[] = [];
  const decoder = new TextDecoder();
  fs.write = (stream, ...rest) => {
    if (stream?.fd !== 2) return write.call(fs, stream, ...rest);
    const [buffer, offset, length] = rest as [Uint8Array, number, number];
    if (parts.length < 1000) parts.push(decoder.decode(buffer.subarray(offset, offset + length)));
    return length;
  };
  return { text: () => parts.join(''), stop: () => (fs.write = write) };
}

/** The parts of an h5wasm module the dataset writer calls directly (the semantic fuzzer's HDF5 generators too). */
export interface H5Module {
  create_dataset(fileId: bigint, path: string, data: bigint, metadata: Record<string, unknown>): number;
  set_dataset_data(fileId: bigint, path: string, count: bigint[], offset: bigint[], stride: bigint[], data: bigint): number;
  _malloc(n: number): number;
  _free(p: number): void;
  HEAPU8: Uint8Array;
  FS: { write: (stream: { fd?: number } | undefined, ...rest: unknown[]) => number };
}

/** HDF5 prints a failed call's error stack to stderr; the creation of an empty dataset (below) fails on purpose. */
export function quietly<T>(module: H5Module, fn: () => T): T {
  const fs = module.FS;
  const write = fs.write;
  fs.write = (stream, ...rest) => (stream?.fd === 2 ? (rest[2] as number) : write.call(fs, stream, ...rest));
  try {
    return fn();
  } finally {
    fs.write = write;
  }
}

/** Elements per slice a dataset is written in (16 MiB of float32): the most of a weight in WASM memory at once. */
export const SLICE_ELEMENTS = 1 << 22;

/** The numeric dtypes HDF5 datasets hold as they are; others are written as float32. */
const AS_IS = new Set<DType>(['float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']);

/**
 * Writes tensors as contiguous datasets (the layout h5py and Keras write), in slices of whole
 * rows: each slice is copied from the tensor's elements (or from its deferred permutation,
 * see Tensor.permute) straight into WASM memory and written to the file there.
 */
export class DatasetWriter {
  constructor(
    private readonly module: H5Module,
    private readonly metadataOf: (data: never) => unknown,
    private readonly sliceElements = SLICE_ELEMENTS,
  ) {}

  /** Create dataset `name` in `g` holding `tensor` (its dtype and shape; float16/bool/... as float32). */
  write(g: Group, name: string, tensor: Tensor): void {
    const t = AS_IS.has(tensor.dtype) ? tensor : new Tensor('float32', tensor.shape, tensor.toFloat32());
    const Ctor = DTYPES[t.dtype].array as unknown as { new (b: ArrayBufferLike, o: number, n: number): NumericArray; new (n: number): NumericArray };
    if (t.rank === 0 || t.size === 0) {
      // a scalar or an empty dataset: nothing to stream
      g.create_dataset({ name, data: t.data as never, shape: [...t.shape] });
      return;
    }
    const path = `${g.path === '/' ? '' : g.path}/${name}`;
    const shape = t.shape.map(BigInt);
    const metadata = { ...(this.metadataOf(new Ctor(0) as never) as object), shape, maxshape: shape, chunks: null, compression: 0, compression_opts: [], track_order: false };
    // h5wasm creates a dataset only together with all its data; created with none, HDF5 makes the
    // (contiguous, late-allocated) dataset and refuses only the write, which the slices then do
    quietly(this.module, () => this.module.create_dataset(g.file_id, path, 0n, metadata));
    const view: PermutedView = t.deferred ?? { source: t.data, shape: t.shape, perm: t.shape.map((_, i) => i) };
    const rows = t.shape[0]!;
    const bytes = DTYPES[t.dtype].bytes;
    // a source whose bytes cannot be viewed as elements (odd offset in the file) is read box by box
    const bytesOnly = isLazySource(view.source) ? view.source.bytes : undefined;
    const source = bytesOnly ? undefined : sourceData(view.source);
    let capacity = 0;
    let ptr = 0;
    let scratch: NumericArray | undefined;
    try {
      for (const slice of viewSlices(view, rows, this.sliceElements)) {
        const n = slice.sizes.reduce((a, b) => a * b, 1);
        if (n > capacity) {
          if (ptr) this.module._free(ptr);
          ptr = this.module._malloc(n * bytes);
          if (!ptr) throw new NnportError(`out of WASM memory writing dataset '${path}' (${n * bytes} bytes)`);
          capacity = n;
        }
        const out = new Ctor(this.module.HEAPU8.buffer, ptr, n);
        if (source) copyStrided(source, slice.offset, slice.sizes, slice.strides, out);
        else {
          if (!scratch || scratch.length < n) scratch = new Ctor(n);
          copyStridedFromBytes(bytesOnly!, slice.offset, slice.sizes, slice.strides, out, scratch);
        }
        const count = [BigInt(slice.rows), ...shape.slice(1)];
        const runBytes = (n / slice.starts.length) * bytes;
        slice.starts.forEach((row, k) => {
          const offset = [BigInt(row), ...shape.slice(1).map(() => 0n)];
          const status = this.module.set_dataset_data(g.file_id, path, count, offset, shape.map(() => 1n), BigInt(ptr + k * runBytes));
          if (status < 0) throw new NnportError(`HDF5 could not write rows ${row}..${row + slice.rows} of dataset '${path}'`);
        });
      }
    } finally {
      if (ptr) this.module._free(ptr);
    }
  }
}

function oneLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0]!.slice(0, 200);
}

export function isGroup(x: unknown): x is Group {
  return !!h5wasm && x instanceof h5wasm.Group;
}

export function isDataset(x: unknown): x is Dataset {
  return !!h5wasm && x instanceof h5wasm.Dataset;
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

/**
 * What reading a file's datasets may take. A dataset's shape is a claim: a chunked dataset whose
 * chunks were never written, or are compressed, or a contiguous one never allocated, reads as
 * any number of elements from a few bytes of file. Each dataset is checked against the
 * one-tensor limit, and what all of them hold beyond the file's own size against the reader's
 * budget (ReadBudget), before h5wasm allocates anything.
 */
/** chunks any dataset may have whatever the file's size */
const MIN_CHUNKS = 4096;

export class DatasetBudget {
  private total = 0;
  private readonly budget: ReadBudget;
  constructor(
    private readonly file: string,
    private readonly fileSize: number,
  ) {
    this.budget = new ReadBudget(file, fileSize);
  }

  take(d: Dataset): void {
    const meta = d.metadata;
    const shape = meta.shape ?? [];
    const elements = shape.reduce((a, b) => a * b, 1);
    const what = `${this.file}: dataset '${d.path}' [${shape.join(', ')}]`;
    checkAllocation(elements, Math.max(1, meta.size), what);
    if (meta.chunks?.length === shape.length) {
      // HDF5 reads chunk by chunk (about 0.1 ms each): every stored chunk takes some bytes of the
      // file, so more chunks than a few per byte of it means a grid of chunks never written
      const chunks = shape.reduce((n, dim, i) => n * Math.ceil(dim / Math.max(1, meta.chunks![i]!)), 1);
      if (chunks > Math.max(MIN_CHUNKS, this.fileSize / 8)) {
        throw new FormatError(`dataset '${d.path}' [${shape.join(', ')}] is split into ${chunks} chunks of [${meta.chunks.join(', ')}], more than a file of ${this.fileSize} bytes can hold`, { file: this.file });
      }
    }
    const bytes = elements * Math.max(1, meta.size);
    const beyond = (n: number) => Math.max(0, n - this.fileSize);
    const more = beyond(this.total + bytes) - beyond(this.total);
    this.total += bytes;
    if (more > 0) this.budget.take(more, `${what}: more than the file holds`);
  }
}

/** A numeric dataset as a tensor (float16 comes back from h5wasm as float32 values). */
export function datasetTensor(d: Dataset, file: string, budget?: DatasetBudget): Tensor {
  budget?.take(d);
  const shape = d.shape ?? [];
  const v = d.value;
  if (typeof v === 'number') return Tensor.float32([], [v]);
  // a scalar int64 (Keras 2 Normalization's `count`)
  if (typeof v === 'bigint') return Tensor.int64([], [v]);
  for (const [ctor, dtype] of ARRAY_DTYPES) {
    if (v instanceof ctor) {
      if ((v as NumericArray).length !== shape.reduce((a, b) => a * b, 1)) throw new FormatError(`dataset '${d.path}' holds ${(v as NumericArray).length} values for shape [${shape.join(', ')}]`, { file });
      return new Tensor(dtype, shape, v as NumericArray);
    }
  }
  throw new FormatError(`dataset '${d.path}' is not a numeric array`, { file });
}


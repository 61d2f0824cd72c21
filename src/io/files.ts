// File access for Node callers of the library and the CLI. Loaded lazily through
// process.getBuiltinModule so that the library still bundles for browsers, where
// callers pass bytes instead of paths.
import { FormatError, UsageError } from '../ir/errors.js';

type Fs = typeof import('node:fs');
type PathMod = typeof import('node:path');

function builtin<T>(id: string): T {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const m = proc?.getBuiltinModule?.(id) as T | undefined;
  if (!m) throw new UsageError('file paths are only available in Node; pass the file bytes instead');
  return m;
}

export const nodeFs = (): Fs => builtin<Fs>('node:fs');
export const nodePath = (): PathMod => builtin<PathMod>('node:path');
export const nodeFsPromises = (): typeof import('node:fs/promises') => builtin('node:fs/promises');

/** Read a whole file; a clear one-line error when it is missing or a directory. */
export function readFileBytes(path: string): Uint8Array {
  const fs = nodeFs();
  let st;
  try {
    st = fs.statSync(path);
  } catch {
    throw new UsageError(`${path}: no such file`);
  }
  if (st.isDirectory()) throw new UsageError(`${path}: is a directory, expected a file`);
  const buf = fs.readFileSync(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * A reader for files next to `modelPath` (ONNX external data, Caffe weights) that refuses
 * absolute paths and paths escaping the model's folder.
 */
export function siblingReader(modelPath: string): (relative: string) => Promise<Uint8Array> {
  const path = nodePath();
  const dir = path.resolve(path.dirname(modelPath));
  return async (relative: string) => {
    if (path.isAbsolute(relative) || relative.split(/[\\/]/).includes('..')) {
      throw new FormatError(`refusing to read '${relative}': it must be a relative path inside the model's folder`, { file: modelPath });
    }
    const full = path.resolve(dir, relative);
    if (!full.startsWith(dir + path.sep)) throw new FormatError(`refusing to read '${relative}' outside the model's folder`, { file: modelPath });
    if (!nodeFs().existsSync(full)) throw new FormatError(`missing file '${relative}' referenced by the model`, { file: modelPath });
    return readFileBytes(full);
  };
}

/**
 * Write `bytes` to `target` atomically: a temporary file in the same folder, then rename.
 * A failed write leaves nothing half-written.
 */
export function writeFileAtomic(target: string, bytes: Uint8Array): void {
  const fs = nodeFs();
  const path = nodePath();
  const dir = path.dirname(path.resolve(target));
  if (!fs.existsSync(dir)) throw new UsageError(`${target}: folder ${dir} does not exist`);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, target);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* the temp file may not exist */
    }
    throw e;
  }
}

/**
 * Write a converted model: its sidecars (external data, shards) next to `target`, then the
 * main file, each atomically and none over an input.
 */
export function writeModelFiles(target: string, bytes: Uint8Array, sidecars: ReadonlyMap<string, Uint8Array>, inputs: string[]): void {
  const path = nodePath();
  for (const [name, data] of sidecars) {
    const file = path.join(path.dirname(target), name);
    assertNotAnInput(file, inputs);
    writeFileAtomic(file, data);
  }
  assertNotAnInput(target, inputs);
  writeFileAtomic(target, bytes);
}

/** Refuse to write over any of the input files (compared after resolving links). */
export function assertNotAnInput(target: string, inputs: string[]): void {
  const fs = nodeFs();
  const path = nodePath();
  const real = (p: string): string => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  const t = real(target);
  for (const i of inputs) {
    if (real(i) === t) throw new UsageError(`refusing to overwrite the input file ${i}; choose another output path`);
  }
}

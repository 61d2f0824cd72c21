// File access for Node callers of the library and the CLI. Loaded lazily through
// process.getBuiltinModule so that the library still bundles for browsers, where
// callers pass bytes or File objects instead of paths.
//
// The guarded reader: only regular files are read (a FIFO, device, socket or folder is refused
// at open, without blocking: O_NONBLOCK), the size comes from fstat of the open descriptor and
// exactly that many bytes are read, and a file beside a model resolves its symlinks and must
// stay inside the model's folder. Every file read is logged (device + inode) so that the
// guarded writer can refuse to write over it.
import { FormatError, NnportError, UsageError } from '../ir/errors.js';

type Fs = typeof import('node:fs');
type PathMod = typeof import('node:path');
type Stats = import('node:fs').Stats;

function builtin<T>(id: string): T {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const m = proc?.getBuiltinModule?.(id) as T | undefined;
  if (!m) throw new UsageError('file paths are only available in Node; pass the file bytes instead');
  return m;
}

export const nodeFs = (): Fs => builtin<Fs>('node:fs');
export const nodePath = (): PathMod => builtin<PathMod>('node:path');
export const nodeFsPromises = (): typeof import('node:fs/promises') => builtin('node:fs/promises');

const FS_MESSAGES: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'is a directory, expected a file',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  ENXIO: 'not a regular file (a socket or a device without a reader)',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EEXIST: 'already exists',
  ENOTEMPTY: 'folder is not empty',
  EMFILE: 'too many open files',
  EBUSY: 'resource busy',
  EIO: 'input/output error',
  EXDEV: 'cannot move across file systems',
  EINVAL: 'invalid argument',
  EFBIG: 'file too large',
};

/** A Node fs error on a user's path as a typed one-line error naming the path. */
export function fsError(e: unknown, path: string, action = ''): NnportError {
  if (e instanceof NnportError) return e;
  const code = (e as { code?: string } | undefined)?.code;
  const what = code && FS_MESSAGES[code] ? FS_MESSAGES[code] : code ? `${code.toLowerCase()}` : e instanceof Error ? e.message : String(e);
  return new UsageError(`${path}: ${action ? `cannot ${action}: ` : ''}${what}`, { cause: e });
}

/** What a non-regular file is, in words. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

// ---- the log of files read in this command (for the writer's "never over an input" rule) ----

interface ReadEntry {
  path: string;
  dev: number;
  ino: number;
}

const readLog = new Map<string, ReadEntry>();

function logRead(path: string, st: Stats): void {
  readLog.set(`${st.dev}:${st.ino}`, { path, dev: st.dev, ino: st.ino });
}

/** Files read through the guarded reader since the last reset (the CLI resets per command). */
export function filesRead(): ReadEntry[] {
  return [...readLog.values()];
}

export function resetReadLog(): void {
  readLog.clear();
}

/** Whether `st` (a stat of some path) is a file read in this command; its path if so. */
export function readFileAt(st: { dev: number; ino: number }): string | undefined {
  return readLog.get(`${st.dev}:${st.ino}`)?.path;
}

// ---- opening ----

function openFlags(fs: Fs): number {
  const c = fs.constants;
  // O_NONBLOCK: opening a FIFO with no writer must not wait; reads of regular files ignore it.
  return c.O_RDONLY | (c.O_NONBLOCK ?? 0) | (c.O_NOCTTY ?? 0);
}

/** Throws unless `st` is a regular file's; logs it as read in this command. */
export function checkRegularStat(st: Stats, path: string): void {
  checkRegular(st, path);
  logRead(path, st);
}

function checkRegular(st: Stats, path: string): void {
  if (st.isFile()) return;
  if (st.isDirectory()) throw new UsageError(`${path}: is a directory, expected a file`);
  throw new UsageError(`${path}: is ${fileKind(st)}, not a regular file; nnport reads only regular files`);
}

/** Open a regular file for reading; its fd and fstat. Refuses anything else without blocking. */
export function openRegularFile(path: string): { fd: number; size: number } {
  const fs = nodeFs();
  let fd: number;
  try {
    fd = fs.openSync(path, openFlags(fs));
  } catch (e) {
    throw fsError(e, path);
  }
  try {
    const st = fs.fstatSync(fd);
    checkRegular(st, path);
    logRead(path, st);
    return { fd, size: st.size };
  } catch (e) {
    fs.closeSync(fd);
    throw fsError(e, path);
  }
}

/** The size of a regular file (fstat of an open descriptor), refusing anything else. */
export function regularFileSize(path: string): number {
  const { fd, size } = openRegularFile(path);
  nodeFs().closeSync(fd);
  return size;
}

/** Read exactly `size` bytes from `fd` into `out` (a file that shrinks is an error). */
export function readFdFully(fd: number, out: Uint8Array, path: string): void {
  const fs = nodeFs();
  for (let p = 0; p < out.byteLength; ) {
    let n: number;
    try {
      n = fs.readSync(fd, out, p, out.byteLength - p, p);
    } catch (e) {
      throw fsError(e, path, 'read');
    }
    if (n === 0) throw new FormatError(`file shrank to ${p} bytes while being read (fstat said ${out.byteLength})`, { file: path });
    p += n;
  }
}

/** The first `length` bytes of a regular file (fewer when it is shorter), and its size: what format detection needs. */
export function readFileHead(path: string, length: number): { head: Uint8Array; size: number } {
  const fs = nodeFs();
  const { fd, size } = openRegularFile(path);
  try {
    const head = new Uint8Array(Math.min(length, size));
    readFdFully(fd, head, path);
    return { head, size };
  } finally {
    fs.closeSync(fd);
  }
}

/** Read a whole regular file (sizes from fstat, nothing past them); a clear one-line error otherwise. */
export function readFileBytes(path: string): Uint8Array {
  const fs = nodeFs();
  const { fd, size } = openRegularFile(path);
  try {
    const out = new Uint8Array(size);
    readFdFully(fd, out, path);
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

// ---- files beside a model ----

/** Real path of a folder (for containment checks); the path itself when it cannot be resolved. */
export function realFolder(dir: string): string {
  try {
    return nodeFs().realpathSync(dir);
  } catch {
    return nodePath().resolve(dir);
  }
}

/**
 * Resolve `relative` inside the folder `dir` (whose real path is `realDir`): absolute paths, `..`
 * and NUL are refused, symlinks are resolved, and the result must still be inside the folder.
 * Returns the real path. `modelPath` is named in the errors.
 */
export function resolveInside(dir: string, realDir: string, relative: string, modelPath: string): string {
  const path = nodePath();
  if (!relative || relative.includes('\0') || path.isAbsolute(relative) || /^[A-Za-z]:/.test(relative) || relative.split(/[\\/]/).includes('..')) {
    throw new FormatError(`refusing to read '${relative}': it must be a relative path inside the model's folder`, { file: modelPath });
  }
  const full = path.join(dir, relative);
  let real: string;
  try {
    real = nodeFs().realpathSync(full);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new FormatError(`missing file '${relative}' referenced by the model (looked for ${full})`, { file: modelPath });
    throw fsError(e, full);
  }
  if (real !== realDir && !real.startsWith(realDir.endsWith(path.sep) ? realDir : realDir + path.sep)) {
    throw new FormatError(`refusing to read '${relative}': it resolves to ${real}, outside the model's folder ${realDir}`, { file: modelPath });
  }
  return real;
}

/**
 * A reader for files next to `modelPath` (ONNX external data, Caffe weights): relative paths
 * only, symlinks resolved and kept inside the model's folder, regular files only.
 */
export function siblingReader(modelPath: string): (relative: string) => Promise<Uint8Array> {
  const path = nodePath();
  const dir = path.resolve(path.dirname(modelPath));
  const realDir = realFolder(dir);
  return async (relative: string) => {
    const real = resolveInside(dir, realDir, relative, modelPath);
    try {
      return readFileBytes(real);
    } catch (e) {
      // name the sibling as the model refers to it, and the model
      if (e instanceof NnportError && !(e instanceof FormatError)) throw new FormatError(`'${relative}': ${e.message}`, { file: modelPath }, { cause: e });
      throw e;
    }
  };
}

// ---- before writing (the writer itself is writer.ts) ----

/** Refuse to write over any of the input files, or any file read in this command (same device and inode). */
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
  let st: Stats | undefined;
  try {
    st = fs.statSync(target);
  } catch {
    return;
  }
  const read = readFileAt(st);
  if (read !== undefined) throw new UsageError(`refusing to overwrite the input file ${read} (as ${target}); choose another output path`);
}

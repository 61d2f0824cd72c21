// The one guarded writer (Node) through which every output file goes: models, sidecars,
// shards, .npy outputs, dumps, reports.
//  - never over a file read in this command (same device and inode, so symlinks, `..` and
//    hard links are all seen through), nor over a folder, FIFO or device;
//  - each file goes to a temporary file in the target's folder, is fsynced, and renamed into
//    place only when every file of the output is complete (a model and its sidecars appear
//    together or not at all);
//  - temporary files (and folders this command created) are removed on error, on SIGINT and
//    on SIGTERM.
import { NnportError, UsageError } from '../ir/errors.js';
import { fileKind, fsError, nodeFs, nodeFsPromises, nodePath, readFileAt } from './files.js';

/** Temporary files being written now, and folders created for outputs not yet committed. */
const temps = new Set<string>();
const createdDirs = new Set<string>();
const CHUNK = 8 << 20;

function removeQuietly(p: string, dir = false): void {
  try {
    const fs = nodeFs();
    if (dir) fs.rmdirSync(p);
    else fs.rmSync(p, { force: true });
  } catch {
    /* already gone, or a folder that is not empty */
  }
}

/** Remove every temporary file (and the empty output folders this command made). Synchronous: safe in signal and exit handlers. */
export function removeTemporaryFiles(): void {
  for (const t of temps) removeQuietly(t);
  temps.clear();
  for (const d of [...createdDirs].reverse()) removeQuietly(d, true);
  createdDirs.clear();
  disarmIfIdle();
}

// Signal handlers are installed only while temporary files exist: a JS handler runs between
// tasks, so with one installed a busy synchronous computation could not be interrupted at once.
const SIGNALS = [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const;
const handlers = SIGNALS.map(([sig, code]) => [sig, () => {
  removeTemporaryFiles();
  process.exit(code);
}] as const);
let armed = false;
let exitHook = false;

function arm(): void {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', removeTemporaryFiles);
  }
  if (armed) return;
  armed = true;
  for (const [sig, h] of handlers) process.on(sig, h);
}

function disarmIfIdle(): void {
  if (!armed || temps.size) return;
  armed = false;
  for (const [sig, h] of handlers) process.off(sig, h);
}

/** Refuse a target that is a file read in this command, or not a regular file. Returns its absolute path. */
export function checkOutputPath(target: string): string {
  const fs = nodeFs();
  const path = nodePath();
  const abs = path.resolve(target);
  let st;
  try {
    st = fs.statSync(abs);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ENOENT') throw fsError(e, target, 'write');
  }
  if (st) {
    const read = readFileAt(st);
    if (read !== undefined) throw new UsageError(`refusing to overwrite the input file ${read}${path.resolve(read) === abs ? '' : ` (as ${target})`}; choose another output path`);
    if (st.isDirectory()) throw new UsageError(`${target}: is a directory; give a file name`);
    if (!st.isFile()) throw new UsageError(`${target}: is ${fileKind(st)}; nnport writes only regular files`);
  }
  return abs;
}

/**
 * A folder output (`--dump DIR`, `-o DIR`): new, or empty unless `force`. Checked before the
 * work starts; the folder is made when the files are written.
 */
export function checkOutputFolder(dir: string, force = false): void {
  const fs = nodeFs();
  let st;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return;
    throw fsError(e, dir);
  }
  if (!st.isDirectory()) throw new UsageError(`${dir}: exists and is not a folder`);
  let n: string[];
  try {
    n = fs.readdirSync(dir);
  } catch (e) {
    throw fsError(e, dir, 'list the folder');
  }
  if (n.length && !force) throw new UsageError(`${dir}: the output folder is not empty (${n.length} entries); choose a new folder or add --force`);
}

function makeFolder(dir: string): void {
  const fs = nodeFs();
  const path = nodePath();
  const abs = path.resolve(dir);
  if (fs.existsSync(abs)) return;
  makeFolder(path.dirname(abs));
  try {
    fs.mkdirSync(abs);
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') throw fsError(e, dir, 'create the folder');
    return;
  }
  createdDirs.add(abs);
}

async function writeTemp(target: string, abs: string, bytes: Uint8Array): Promise<string> {
  const fs = nodeFs();
  const path = nodePath();
  const dir = path.dirname(abs);
  let dst;
  try {
    dst = fs.statSync(dir);
  } catch (e) {
    throw fsError(e, dir, `write ${target}: its folder`);
  }
  if (!dst.isDirectory()) throw new UsageError(`${target}: ${dir} is not a folder`);
  const tmp = path.join(dir, `.${path.basename(abs).slice(0, 80)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  temps.add(tmp);
  arm();
  let fh;
  try {
    fh = await nodeFsPromises().open(tmp, 'wx');
    // chunked, so that a signal is handled between chunks instead of after a long write
    for (let p = 0; p < bytes.byteLength; ) {
      const { bytesWritten } = await fh.write(bytes, p, Math.min(CHUNK, bytes.byteLength - p));
      p += bytesWritten;
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    return tmp;
  } catch (e) {
    await fh?.close().catch(() => undefined);
    removeQuietly(tmp);
    temps.delete(tmp);
    disarmIfIdle();
    throw fsError(e, target, 'write');
  }
}

/**
 * Write several files as one output: every path checked first, each written to a temporary
 * file and fsynced, then all renamed into place. On any error, nothing of the output remains.
 */
export async function writeOutputFiles(files: ReadonlyArray<readonly [string, Uint8Array]>): Promise<void> {
  const path = nodePath();
  const seen = new Set<string>();
  const abs = files.map(([t]) => {
    const a = checkOutputPath(t);
    if (seen.has(a)) throw new UsageError(`${t}: two outputs of this command would be written to the same file`);
    seen.add(a);
    return a;
  });
  const done: string[] = [];
  try {
    for (let i = 0; i < files.length; i++) {
      makeFolder(path.dirname(abs[i]!));
      done.push(await writeTemp(files[i]![0], abs[i]!, files[i]![1]));
    }
    // the paths again: a reader may have been fooled into reading one of them meanwhile
    files.forEach(([t]) => checkOutputPath(t));
    const fs = nodeFs();
    for (let i = 0; i < files.length; i++) {
      try {
        fs.renameSync(done[i]!, abs[i]!);
      } catch (e) {
        throw fsError(e, files[i]![0], 'write');
      }
      temps.delete(done[i]!);
    }
    createdDirs.clear();
    disarmIfIdle();
  } catch (e) {
    for (const t of done) {
      removeQuietly(t);
      temps.delete(t);
    }
    for (const d of [...createdDirs].reverse()) removeQuietly(d, true);
    createdDirs.clear();
    disarmIfIdle();
    throw e;
  }
}

/**
 * Write one output file through `fill`, which writes the temporary file it is given (a writer
 * that streams to disk, e.g. HDF5 through h5wasm's Node build); then, as writeOutputFile,
 * fsynced and renamed into place, or removed if anything failed.
 */
export async function writeOutputFileBy(target: string, fill: (temporaryPath: string) => Promise<void>): Promise<void> {
  const fs = nodeFs();
  const path = nodePath();
  const abs = checkOutputPath(target);
  const dir = path.dirname(abs);
  makeFolder(dir);
  const tmp = path.join(dir, `.${path.basename(abs).slice(0, 80)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  temps.add(tmp);
  arm();
  try {
    await fill(tmp);
    let fd;
    try {
      fd = fs.openSync(tmp, 'r+');
      fs.fsyncSync(fd);
    } catch (e) {
      throw fsError(e, target, 'write');
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    checkOutputPath(target);
    try {
      fs.renameSync(tmp, abs);
    } catch (e) {
      throw fsError(e, target, 'write');
    }
    temps.delete(tmp);
    createdDirs.clear();
  } catch (e) {
    removeQuietly(tmp);
    temps.delete(tmp);
    for (const d of [...createdDirs].reverse()) removeQuietly(d, true);
    createdDirs.clear();
    // a system error of the writer (a full disk) names the output, not its temporary file
    throw typeof (e as { code?: unknown } | undefined)?.code === 'string' && !(e instanceof NnportError) ? fsError(e, target, 'write') : e;
  } finally {
    disarmIfIdle();
  }
}

/** Write one output file (guarded, temp + fsync + rename). */
export async function writeOutputFile(target: string, bytes: Uint8Array): Promise<void> {
  await writeOutputFiles([[target, bytes]]);
}

/** The files of a converted model: its sidecars (external data, shards) next to `target`, and the main file. */
export function modelOutputFiles(target: string, bytes: Uint8Array, sidecars: ReadonlyMap<string, Uint8Array>): Array<[string, Uint8Array]> {
  const path = nodePath();
  const out: Array<[string, Uint8Array]> = [];
  for (const [name, data] of sidecars) {
    if (path.isAbsolute(name) || name.split(/[\\/]/).includes('..')) throw new UsageError(`${target}: a sidecar file name '${name}' leaves the output's folder`);
    out.push([path.join(path.dirname(target), name), data]);
  }
  out.push([target, bytes]);
  return out;
}

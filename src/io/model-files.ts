// ModelFileSet (src/formats/model.ts) for the two places models come from: paths in Node
// (several files, or a folder such as a SavedModel or a TF.js model) and File/Blob lists in
// the browser. Readers of multi-file formats get one through ReadOptions.files.
import { FormatError, UsageError } from '../ir/errors.js';
import type { ModelFileSet } from '../formats/model.js';
import { fsError, nodeFs, nodePath, readFileBytes, realFolder, resolveInside } from './files.js';
import { readModelFileBytes } from './read-file.js';

/** A ModelFileSet that also knows which given files were read (to name one nobody used). */
export interface TrackedFileSet extends ModelFileSet {
  /** given names not read so far */
  unused(): string[];
  /**
   * Node: the path on disk of a given file, counted as read, for a reader that opens it itself
   * (positioned reads of a file too large to hold whole); undefined for in-memory files
   */
  localPath?(name: string): string | undefined;
}

/**
 * Which file of a folder (or of a picked folder in the browser) is the model, most specific
 * first: one row per pattern. Files of later rows found beside it are given too (a Caffe
 * folder gives its prototxt, then its caffemodel).
 */
const PRIMARY_FILES: readonly { test: (name: string) => boolean; what: string }[] = [
  { test: (n) => n === 'saved_model.pb' || n === 'saved_model.pbtxt', what: 'TensorFlow SavedModel' },
  { test: (n) => n === 'model.json', what: 'TensorFlow.js model' },
  { test: (n) => /\.(prototxt|pbtxt)$/i.test(n), what: 'Caffe prototxt' },
  { test: (n) => /\.meta$/i.test(n), what: 'TensorFlow checkpoint' },
  { test: (n) => /\.(onnx|tflite|h5|hdf5|keras|pb)$/i.test(n), what: 'model' },
  { test: (n) => /\.(caffemodel|index|pth|pt|safetensors|npz)$/i.test(n), what: 'weights' },
];

/** Order the top-level files of a folder: the model first, then its companions; throws when ambiguous. */
export function chooseFolderFiles(names: readonly string[], folder: string): string[] {
  for (let row = 0; row < PRIMARY_FILES.length; row++) {
    const hits = names.filter((n) => PRIMARY_FILES[row]!.test(n)).sort();
    if (!hits.length) continue;
    if (hits.length > 1) {
      throw new UsageError(`${folder}: the folder holds several ${PRIMARY_FILES[row]!.what} files (${hits.join(', ')}); name the files to use instead of the folder`);
    }
    const rest = names.filter((n) => n !== hits[0] && PRIMARY_FILES.slice(row + 1).some((r) => r.test(n))).sort();
    return [hits[0]!, ...rest];
  }
  throw new UsageError(`${folder}: no model file found in the folder (looked for saved_model.pb, model.json, .prototxt, .meta, .onnx, .tflite, .h5, .keras, .pb, weights files)`);
}

/** Limits of a folder listing: a model folder is small; a huge tree is a mistake or an attack. */
const MAX_LIST_ENTRIES = 100_000;
const MAX_LIST_DEPTH = 8;

// ---- Node: paths ----

/**
 * The files of a model from paths (Node). One path that is a folder: the model file inside it
 * (PRIMARY_FILES) and its companions. Several paths: those files, the first the primary one.
 * Reads are guarded: regular files only; names that are not given resolve beside the primary
 * file and must stay inside its folder, after resolving symlinks.
 */
export function nodeFileSet(paths: readonly string[]): TrackedFileSet {
  if (!paths.length) throw new UsageError('no model file given');
  const fs = nodeFs();
  const path = nodePath();
  let given: string[];
  if (paths.length === 1 && isDirectory(paths[0]!)) {
    const folder = paths[0]!;
    let names: string[];
    try {
      names = fs.readdirSync(folder, { withFileTypes: true }).filter((d) => d.isFile() || d.isSymbolicLink()).map((d) => d.name);
    } catch (e) {
      throw fsError(e, folder, 'list the folder');
    }
    given = chooseFolderFiles(names, folder).map((n) => path.join(folder, n));
  } else {
    for (const p of paths) if (isDirectory(p)) throw new UsageError(`${p}: is a directory; give a model's folder alone, or name its files`);
    given = [...paths];
  }
  const primary = given[0]!;
  const dir = path.resolve(path.dirname(primary));
  const realDir = realFolder(dir);
  const used = new Set<string>();
  const byBase = new Map<string, string[]>();
  for (const g of given) byBase.set(path.basename(g), [...(byBase.get(path.basename(g)) ?? []), g]);

  const realOf = (p: string): string => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  const givenReal = new Map(given.map((g) => [realOf(g), g]));

  const readGiven = async (g: string): Promise<Uint8Array> => {
    used.add(g);
    return g === primary ? readModelFileBytes(g) : readFileBytes(g);
  };

  return {
    given,
    async read(name: string): Promise<Uint8Array> {
      if (given.includes(name)) return readGiven(name);
      const same = byBase.get(name);
      if (same?.length === 1) return readGiven(same[0]!);
      const real = resolveInside(dir, realDir, name, primary);
      const g = givenReal.get(real);
      if (g !== undefined) used.add(g);
      try {
        return readFileBytes(real);
      } catch (e) {
        if (e instanceof UsageError) throw new FormatError(`'${name}': ${e.message}`, { file: primary }, { cause: e });
        throw e;
      }
    },
    async list(): Promise<string[]> {
      const out: string[] = [];
      const walk = (rel: string, depth: number): void => {
        let entries;
        try {
          entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
        } catch (e) {
          throw fsError(e, path.join(dir, rel), 'list the folder');
        }
        for (const d of entries) {
          const r = rel ? `${rel}/${d.name}` : d.name;
          if (d.isDirectory()) {
            if (depth < MAX_LIST_DEPTH) walk(r, depth + 1);
          } else if (d.isFile() || d.isSymbolicLink()) out.push(r);
          if (out.length > MAX_LIST_ENTRIES) throw new UsageError(`${dir}: more than ${MAX_LIST_ENTRIES} files beside the model; move it into a folder of its own`);
        }
      };
      walk('', 0);
      const outside = given.filter((g) => path.resolve(path.dirname(g)) !== dir).map((g) => g);
      return [...out.sort(), ...outside];
    },
    unused: () => given.filter((g) => !used.has(g)),
    localPath(name: string): string | undefined {
      if (!given.includes(name)) return undefined;
      used.add(name);
      return name;
    },
  };
}

function isDirectory(p: string): boolean {
  try {
    return nodeFs().statSync(p).isDirectory();
  } catch {
    return false;
  }
}

// ---- browser: File / Blob lists ----

/** A file of a model in memory or from a file picker. */
export type ModelFileInput = File | { name: string; bytes: Uint8Array } | { name: string; blob: Blob };

function inputName(f: ModelFileInput, i: number): string {
  const rel = (f as { webkitRelativePath?: string }).webkitRelativePath;
  return rel || f.name || `file${i}`;
}

async function inputBytes(f: ModelFileInput): Promise<Uint8Array> {
  // (File has a bytes() method in newer browsers: test for the array, not the key)
  const b = (f as { bytes?: unknown }).bytes;
  if (b instanceof Uint8Array) return b;
  const blob = 'blob' in f ? f.blob : (f as File);
  return new Uint8Array(await blob.arrayBuffer());
}

/** Normalize a relative name: '/' separators, no '.', and refuse '..' and absolute paths. */
function normalizeRelative(name: string, primary: string): string {
  const parts = name.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.includes('\0') || parts.includes('..')) {
    throw new FormatError(`refusing to read '${name}': it must be a relative path inside the model's folder`, { file: primary });
  }
  return parts.join('/');
}

/**
 * The files of a model from File/Blob objects (browser; also in-memory bytes anywhere). Names
 * are File.webkitRelativePath when a folder was picked, else File.name. A picked folder's
 * model file is chosen as for a folder path. Sibling names resolve against the primary
 * file's folder within the list; nothing outside the list can be read.
 */
export function blobFileSet(files: readonly ModelFileInput[]): TrackedFileSet {
  if (!files.length) throw new UsageError('no model file given');
  const byName = new Map<string, ModelFileInput>();
  files.forEach((f, i) => byName.set(normalizeRelative(inputName(f, i), inputName(f, i)), f));
  let given = [...byName.keys()];
  const folders = new Set(given.map((n) => n.slice(0, Math.max(0, n.lastIndexOf('/')))));
  const picked = files.some((f) => (f as { webkitRelativePath?: string }).webkitRelativePath);
  if (picked && folders.size >= 1) {
    // a picked folder: the model file among its top-level files, like a folder path
    const depth = given.reduce((m, g) => Math.min(m, g.split('/').length), Infinity);
    const top = given.filter((n) => n.split('/').length === depth);
    const prefix = top[0]!.slice(0, top[0]!.lastIndexOf('/') + 1);
    given = chooseFolderFiles(top.map((n) => n.slice(prefix.length)), prefix || '<files>').map((n) => prefix + n);
  }
  const primary = given[0]!;
  const dir = primary.includes('/') ? primary.slice(0, primary.lastIndexOf('/') + 1) : '';
  const used = new Set<string>();
  const base = (n: string) => n.slice(n.lastIndexOf('/') + 1);
  return {
    given,
    async read(name: string): Promise<Uint8Array> {
      let key: string | undefined = byName.has(name) ? name : undefined;
      if (key === undefined) {
        const same = given.filter((g) => base(g) === name);
        if (same.length === 1) key = same[0];
      }
      if (key === undefined) {
        const rel = dir + normalizeRelative(name, primary);
        if (!byName.has(rel)) throw new FormatError(`missing file '${name}' referenced by the model: add it to the files given`, { file: primary });
        key = rel;
      }
      used.add(key);
      return inputBytes(byName.get(key)!);
    },
    async list(): Promise<string[]> {
      return [...byName.keys()].map((n) => (dir && n.startsWith(dir) ? n.slice(dir.length) : n)).sort();
    },
    unused: () => given.filter((g) => !used.has(g)),
  };
}

import { FormatError, GraphError, NnportError, ResourceError, UnsupportedError, UsageError } from '../ir/errors.js';
import { withInputShapes } from '../ir/input-shapes.js';
import { validateGraph } from '../ir/validate.js';
import { readFileHead } from '../io/files.js';
import type { FormatId, LoadedModel, ReadOptions, WriteOptions } from './model.js';

/**
 * One row per format: how to recognise it from its first bytes, and (where supported)
 * how to read and write it. A format module never imports another format.
 */
export interface FormatHandler {
  id: FormatId;
  /** human name, e.g. "TFLite model" */
  title: string;
  /** usual file extensions, lower case with the dot */
  extensions: string[];
  /** looks only at the first bytes (at most 4 KiB) and the name; never parses the whole file */
  detect(head: Uint8Array, fileName?: string): boolean;
  read?(bytes: Uint8Array, options: ReadOptions): Promise<LoadedModel>;
  /**
   * Node, where a file may be larger than one buffer can hold (a GraphDef over 2 GiB): read the
   * file at `path` itself, by positioned reads, instead of being given its bytes
   */
  readFile?(path: string, options: ReadOptions): Promise<LoadedModel>;
  write?(model: LoadedModel, options: WriteOptions): Promise<Uint8Array>;
  /** Node, where the format can stream: write the same file straight to `path` on disk (no copy of it in memory) */
  writeFile?(model: LoadedModel, path: string, options: WriteOptions): Promise<void>;
  /** the reader applies ReadOptions.inputShapes itself (TensorFlow, Caffe); for the others readModel gives the graph's inputs those shapes */
  ownInputShapes?: boolean;
  /**
   * The writer keeps ONNX If / Loop nodes whose condition or trip count is known only at run time
   * (as the format's own control flow: subgraphs, functions); for the others prepareForOutput
   * refuses them by name. Constant control flow is made straight-line for every format.
   */
  writesControlFlow?(options: Partial<WriteOptions>): boolean;
}

const handlers: FormatHandler[] = [];

/** Add a format. Order matters: more specific detectors first. */
export function registerFormat(handler: FormatHandler): void {
  if (handlers.some((h) => h.id === handler.id)) return;
  handlers.push(handler);
}

export function formats(): readonly FormatHandler[] {
  return handlers;
}

export function formatById(id: FormatId): FormatHandler | undefined {
  return handlers.find((h) => h.id === id);
}

/** Detect a file's format from its bytes (the extension only breaks ties). */
export function detectFormat(bytes: Uint8Array, fileName = '<bytes>'): FormatHandler {
  if (bytes.byteLength === 0) throw new FormatError('file is empty', { file: fileName });
  const head = bytes.subarray(0, 4096);
  const hits = handlers.filter((h) => {
    try {
      return h.detect(head, fileName);
    } catch {
      return false;
    }
  });
  if (hits.length === 1) return hits[0]!;
  const lower = fileName.toLowerCase();
  const byExt = hits.find((h) => h.extensions.some((e) => lower.endsWith(e)));
  if (byExt) return byExt;
  if (hits.length) return hits[0]!;
  throw new FormatError(`not a model file nnport recognises (known: ${handlers.map((h) => h.title).join(', ')})`, { file: fileName });
}

/** The handler for writing a file with this name, by extension. */
export function formatForOutput(fileName: string): FormatHandler {
  const lower = fileName.toLowerCase();
  const h = handlers.find((x) => x.write && x.extensions.some((e) => lower.endsWith(e)));
  if (h) return h;
  const known = handlers.filter((x) => x.extensions.some((e) => lower.endsWith(e)));
  if (known.length) throw new UnsupportedError(`writing ${known[0]!.title} files`, `'${fileName}' cannot be written yet`);
  throw new UnsupportedError(`output format of '${fileName}'`, `writable: ${handlers.filter((x) => x.write).flatMap((x) => x.extensions).join(', ')}`);
}

/** Read a model file: detect, then parse with the format's reader. */
export async function readModel(bytes: Uint8Array, options: ReadOptions = {}): Promise<LoadedModel> {
  const file = options.fileName ?? '<bytes>';
  const h = detectFormat(bytes, file);
  if (!h.read) throw new UnsupportedError(`reading ${h.title} files`, `'${file}' is a ${h.title}; reading it is not supported yet`);
  return checkedRead(() => h.read!(bytes, options), file, h, options);
}

/**
 * Node: read the model file at `path`, detected from its first bytes. A format that reads files
 * by positioned reads (`readFile`: a GraphDef over 2 GiB) gets the path and never holds the file
 * whole; the others get its bytes from `readWhole`.
 */
export async function readModelFile(path: string, readWhole: () => Promise<Uint8Array>, options: ReadOptions = {}): Promise<LoadedModel> {
  const file = options.fileName ?? path;
  const h = detectFormat(readFileHead(path, 4096).head, file);
  if (h.readFile) return checkedRead(() => h.readFile!(path, options), file, h, options);
  if (!h.read) throw new UnsupportedError(`reading ${h.title} files`, `'${file}' is a ${h.title}; reading it is not supported yet`);
  const bytes = await readWhole();
  return checkedRead(() => h.read!(bytes, options), file, h, options);
}

async function checkedRead(read: () => Promise<LoadedModel>, file: string, h: FormatHandler, options: ReadOptions): Promise<LoadedModel> {
  let model: LoadedModel;
  try {
    model = await read();
  } catch (e) {
    throw namingFile(e, file);
  }
  if (options.inputShapes && !h.ownInputShapes) {
    if (model.kind !== 'graph') throw new UsageError(`--input-shape: '${file}' is a ${h.title} holding weights only, no graph inputs to shape`);
    model = { ...model, graph: withInputShapes(model.graph, options.inputShapes, file) };
  }
  if (model.kind === 'graph') {
    // every reader's graph is checked here, so every command refuses an invalid one alike
    try {
      validateGraph(model.graph);
    } catch (e) {
      if (e instanceof GraphError) throw new GraphError(`${file}: invalid graph: ${e.message}`, { cause: e });
      throw namingFile(e, file);
    }
  }
  return model;
}

/** Errors that a reader let escape untyped (a reader bug on bytes it did not validate); the fuzzer counts them. */
const readerBugs = new WeakSet<object>();

/** Whether `e` is an untyped error from a reader, turned into a FormatError by readModel. */
export function isReaderBug(e: unknown): boolean {
  return typeof e === 'object' && e !== null && readerBugs.has(e);
}

/**
 * A typed error from deep inside a reader (a Tensor's rank check, a budget) names the file it
 * came from; an untyped one (a TypeError or RangeError on bytes the reader did not expect)
 * becomes a FormatError naming the file, never an "internal error" for the user.
 */
function namingFile(e: unknown, file: string): unknown {
  if (e instanceof NnportError) {
    if (!e.message.includes(file)) e.message = `${file}: ${e.message}`;
    return e;
  }
  const msg = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
  if (e instanceof RangeError && /call stack size|Invalid (typed )?array length|Array buffer allocation failed|Invalid string length/.test(e.message)) {
    const r = new ResourceError(file, 0, 0);
    r.cause = e;
    r.message = `${file}: too large or too deeply nested to process (${msg}); please report it`;
    readerBugs.add(r);
    return r;
  }
  const typed = new FormatError(`cannot be read (${msg}); nnport did not expect this file's contents, please report it`, { file }, { cause: e });
  readerBugs.add(typed);
  return typed;
}

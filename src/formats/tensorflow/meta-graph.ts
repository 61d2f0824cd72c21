// MetaGraphDef (.meta + checkpoint) and SavedModel (saved_model.pb + variables/): pick the
// graph and signature, find the checkpoint, freeze, then read the frozen graph like a .pb.
import { FormatError, UnsupportedError, UsageError } from '../../ir/errors.js';
import type { Graph } from '../../ir/graph.js';
import { tensorflow } from '../generated/tensorflow.js';
import type { FormatId, GraphModel, Listing, ReadOptions, WeightsModel } from '../model.js';
import { constTensors, convertOrDescribe } from './describe.js';
import { functionListing, outsideListing, signatureListing, variableListing } from './listings.js';
import { openCheckpoint, parseCheckpointState, siblingFiles, splitPath, type Checkpoint, type SiblingFiles } from './checkpoint.js';
import { freezeGraphDef, outputsRequired } from './freeze-graph.js';
import { decodeProto, parseInput, type GraphDef } from './graph-def.js';
import { shapeFromProto } from './tensor-proto.js';
import { graphDefToIr } from './to-ir.js';
import { inlineFunctions, needsInlining } from './functions.js';
import { guardProtobufDecode } from '../protobuf-peek.js';
import { META_GRAPH, SAVED_MODEL } from './wire-schema.js';

export type MetaGraphDef = tensorflow.MetaGraphDef.$Properties;
export type SignatureDef = tensorflow.SignatureDef.$Properties;

export function decodeMetaGraph(bytes: Uint8Array, file: string): MetaGraphDef {
  guardProtobufDecode(bytes, META_GRAPH, file, 'TensorFlow MetaGraphDef');
  return decodeProto(() => tensorflow.MetaGraphDef.decode(bytes), file, 'TensorFlow MetaGraphDef');
}

/** The SavedModel's serving graph (tag 'serve', else the only one). */
export function decodeSavedModel(bytes: Uint8Array, file: string): MetaGraphDef {
  guardProtobufDecode(bytes, SAVED_MODEL, file, 'TensorFlow SavedModel');
  const sm = decodeProto(() => tensorflow.SavedModel.decode(bytes), file, 'TensorFlow SavedModel');
  const graphs = sm.meta_graphs ?? [];
  if (!graphs.length) throw new FormatError('the SavedModel holds no MetaGraph', { file });
  return graphs.find((g) => (g.meta_info_def?.tags ?? []).includes('serve')) ?? graphs[0]!;
}

/** The signature to read: the named one, else serving_default, else the only one. */
export function pickSignature(meta: MetaGraphDef, name: string | undefined, file: string): [string, SignatureDef] | undefined {
  const sigs = meta.signature_def ?? {};
  const names = Object.keys(sigs);
  if (name) {
    if (!sigs[name]) throw new UsageError(`'${file}' has no signature '${name}' (it has ${names.join(', ') || 'none'})`);
    return [name, sigs[name]!];
  }
  if (sigs.serving_default) return ['serving_default', sigs.serving_default];
  if (names.length === 1) return [names[0]!, sigs[names[0]!]!];
  return undefined;
}

/** A signature's tensors as (key, tensor name, dtype, shape). */
export function signatureTensors(m: Record<string, tensorflow.TensorInfo.$Properties> | null | undefined, file: string) {
  return Object.entries(m ?? {}).map(([key, t]) => {
    if (!t.name) throw new UnsupportedError('signature tensors that are not plain tensors (sparse or composite)', `'${key}' in '${file}'`);
    return { key, name: t.name, dtype: t.dtype ?? 0, shape: shapeFromProto(t.tensor_shape) };
  });
}

/** The checkpoint of a .meta: --checkpoint, else the folder's `checkpoint` state file, else `<meta prefix>.index`. */
async function metaCheckpoint(files: SiblingFiles, given: string | undefined, file: string): Promise<Checkpoint> {
  const [, base] = splitPath(file);
  let prefix: string;
  if (given) prefix = given.replace(/\.index$/i, '');
  else {
    let state: Uint8Array | undefined;
    try {
      state = await files.read('checkpoint');
    } catch {
      state = undefined;
    }
    prefix = state ? parseCheckpointState(new TextDecoder().decode(state), 'checkpoint') : base.replace(/\.meta$/i, '');
  }
  const [, prefixBase] = splitPath(prefix);
  const rel = given && /[\\/]/.test(given) ? prefix : prefixBase;
  let index: Uint8Array;
  try {
    index = await files.read(`${rel}.index`);
  } catch (e) {
    throw new FormatError(`its checkpoint '${rel}.index' cannot be read (give --checkpoint PREFIX): ${e instanceof Error ? e.message : String(e)}`, { file });
  }
  return openCheckpoint(index, rel, files, `${rel}.index`);
}

/** The checkpoint of a .meta; a MetaGraph saved with a V1 saver is refused by name. */
export async function metaCheckpointFor(meta: MetaGraphDef, files: SiblingFiles, given: string | undefined, file: string): Promise<Checkpoint> {
  if (meta.saver_def?.version === 1 && !given) {
    throw new UnsupportedError('legacy V1 TensorFlow checkpoints (SaveSlices tables, TensorFlow before 0.12)', `'${file}' was saved with one; re-save it with write_version V2`);
  }
  return metaCheckpoint(files, given, file);
}

export interface FrozenModel {
  graphDef: GraphDef;
  /** the signature's input/output tensor names by key, when one was used */
  signature?: string;
  inputs: string[];
  outputs: string[];
}

/** Freeze a MetaGraph with its checkpoint; outputs from options, else the signature. */
export async function freezeMetaGraph(meta: MetaGraphDef, checkpoint: Checkpoint, options: ReadOptions, file: string): Promise<FrozenModel> {
  let gd = meta.graph_def ?? {};
  const sig = options.outputs?.length ? undefined : pickSignature(meta, options.signature, file);
  const inputs = sig ? signatureTensors(sig[1].inputs, file) : [];
  const outputs = options.outputs?.length ? options.outputs : sig ? signatureTensors(sig[1].outputs, file).map((t) => t.name) : [];
  if (!outputs.length) outputsRequired(gd.node ?? [], file);
  // TensorFlow 2: the signature calls a traced function with the variables' handles as captured inputs
  let keys = new Map<string, string>();
  if (needsInlining(gd)) {
    const inlined = inlineFunctions(gd, { file, roots: outputs, ops: meta.meta_info_def?.stripped_op_list?.op ?? [] });
    keys = capturedVariableKeys(meta, gd, inlined.calls);
    gd = inlined.graphDef;
  }
  const names = new Set(checkpoint.bundle.entries.keys());
  const graphDef = await freezeGraphDef(gd, {
    file,
    outputs,
    feeds: inputs.filter((i) => !isPlaceholder(gd, i.name)).map((i) => ({ name: i.name, dtype: i.dtype, shape: i.shape })),
    set: options.set,
    variable: async (name) => {
      const key = keys.get(name) ?? name;
      return names.has(key) ? checkpoint.tensor(key) : undefined;
    },
  });
  return { graphDef, signature: sig?.[0], inputs: inputs.map((i) => i.name), outputs };
}

function isPlaceholder(gd: GraphDef, tensor: string): boolean {
  const n = (gd.node ?? []).find((x) => x.name === parseInput(tensor).node);
  return n?.op === 'Placeholder';
}

function toIr(frozen: FrozenModel, options: ReadOptions, file: string, name: string): Graph {
  return graphDefToIr(frozen.graphDef, { file, outputs: frozen.outputs, inputShapes: options.inputShapes, name });
}

/** inspect's tables for a MetaGraph/SavedModel: signatures, variables, what freezing left out. */
function metaListings(meta: MetaGraphDef, ckpt: Checkpoint, frozen: FrozenModel): Listing[] {
  const kept = new Set((frozen.graphDef.node ?? []).map((n) => n.name ?? ''));
  const lists = [signatureListing(meta), variableListing(ckpt.bundle), outsideListing(meta.graph_def ?? {}, kept)];
  return meta.graph_def?.library?.function?.length ? [...lists, functionListing(meta.graph_def)] : lists;
}

export async function readMetaGraphFile(bytes: Uint8Array, options: ReadOptions = {}): Promise<GraphModel | WeightsModel> {
  const file = options.fileName ?? '<bytes>';
  const meta = decodeMetaGraph(bytes, file);
  const files = siblingFiles(options);
  const ckpt = await metaCheckpointFor(meta, files, options.checkpoint, file);
  return readFrozen(meta, ckpt, options, file, 'tf-checkpoint-meta', splitPath(file)[1].replace(/\.meta$/i, ''));
}

/** Freeze and convert; for inspect, a graph that cannot be converted is described instead. */
async function readFrozen(meta: MetaGraphDef, ckpt: Checkpoint, options: ReadOptions, file: string, format: FormatId, name: string): Promise<GraphModel | WeightsModel> {
  return convertOrDescribe(
    async () => {
      const frozen = await freezeMetaGraph(meta, ckpt, options, file);
      const graph = toIr(frozen, options, file, name);
      return { kind: 'graph', format, graph, listings: metaListings(meta, ckpt, frozen), sourceWeights: constTensors(frozen.graphDef, file, true) } satisfies GraphModel;
    },
    meta.graph_def ?? {},
    options,
    format,
    file,
    () => [signatureListing(meta), variableListing(ckpt.bundle), ...(meta.graph_def?.library?.function?.length ? [functionListing(meta.graph_def)] : [])],
  );
}

export async function savedModelCheckpoint(files: SiblingFiles, file: string): Promise<Checkpoint> {
  let index: Uint8Array;
  try {
    index = await files.read('variables/variables.index');
  } catch (e) {
    throw new FormatError(`its variables 'variables/variables.index' cannot be read: ${e instanceof Error ? e.message : String(e)}`, { file });
  }
  return openCheckpoint(index, 'variables/variables', files, 'variables/variables.index');
}

export async function readSavedModelFile(bytes: Uint8Array, options: ReadOptions = {}): Promise<GraphModel | WeightsModel> {
  const file = options.fileName ?? '<bytes>';
  const meta = decodeSavedModel(bytes, file);
  const files = siblingFiles(options);
  const ckpt = await savedModelCheckpoint(files, file);
  return readFrozen(meta, ckpt, options, file, 'tf-saved-model', 'saved_model');
}

/** A SavedObjectGraph local name as a checkpoint key part (TensorFlow's _escape_local_name). */
function escapeLocalName(name: string): string {
  return name.replace(/\./g, '..').replace(/\//g, '.S');
}

/**
 * Checkpoint keys of the variable handles a TF2 graph passes to its functions: a call's last
 * inputs are the function's captured inputs, which SavedObjectGraph binds to object ids
 * (concrete_functions[f].bound_inputs); a variable object's key is its breadth-first path of
 * child names from the root, then `/.ATTRIBUTES/VARIABLE_VALUE`, as TensorFlow's checkpoint saver writes it.
 */
export function capturedVariableKeys(meta: MetaGraphDef, gd: GraphDef, calls: Map<string, string>): Map<string, string> {
  const keys = new Map<string, string>();
  const og = meta.object_graph_def;
  const objects = og?.nodes ?? [];
  if (!objects.length) return keys;
  const paths = new Map<number, string>([[0, '']]);
  const queue = [0];
  while (queue.length) {
    const id = queue.shift()!;
    for (const c of objects[id]?.children ?? []) {
      const child = c.node_id ?? 0;
      if (paths.has(child) || child < 0 || child >= objects.length) continue;
      const base = paths.get(id)!;
      paths.set(child, `${base ? `${base}/` : ''}${escapeLocalName(c.local_name ?? '')}`);
      queue.push(child);
    }
  }
  const byName = new Map((gd.node ?? []).map((n) => [n.name ?? '', n]));
  for (const [call, fname] of calls) {
    const bound = og?.concrete_functions?.[fname]?.bound_inputs ?? [];
    const data = (byName.get(call)?.input ?? []).filter((i) => !i.startsWith('^'));
    const captured = data.slice(data.length - bound.length);
    bound.forEach((id, k) => {
      const path = paths.get(id);
      const handle = captured[k];
      if (path === undefined || !handle || !objects[id]?.variable) return;
      keys.set(parseInput(handle).node, `${path}/.ATTRIBUTES/VARIABLE_VALUE`);
    });
  }
  return keys;
}

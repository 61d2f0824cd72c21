// MetaGraphDef (.meta + checkpoint) and SavedModel (saved_model.pb + variables/): pick the
// graph and signature, find the checkpoint, freeze, then read the frozen graph like a .pb.
import { FormatError, UnsupportedError, UsageError } from '../../ir/errors.js';
import type { Graph } from '../../ir/graph.js';
import { tensorflow } from '../generated/tensorflow.js';
import type { FormatId, GraphModel, Listing, ReadOptions, WeightsModel } from '../model.js';
import { constTensors, convertOrDescribe } from './describe.js';
import { functionListing, outsideListing, signatureListing, variableListing } from './listings.js';
import { openCheckpoint, openV1Checkpoint, parseCheckpointState, siblingFiles, splitPath, type Checkpoint, type SiblingFiles } from './checkpoint.js';
import { isV1Table, v1ShardNames } from './checkpoint-v1.js';
import { freezeGraphDef, outputsRequired } from './freeze-graph.js';
import { decodeProto, parseInput, type GraphDef } from './graph-def.js';
import { shapeFromProto, shapeToProto } from './tensor-proto.js';
import { cutExampleInputs, exampleInputs, graphTensorInfo, type FeedTensor } from './parse-example.js';
import { graphDefToIr } from './to-ir.js';
import { inlineFunctions, needsInlining } from './functions.js';
import { guardProtobufDecode } from '../protobuf-peek.js';
import { partValue, variableSources } from './partitioned.js';
import type { Tensor } from '../../ir/tensor.js';
import { META_GRAPH, SAVED_MODEL } from './wire-schema.js';

export type MetaGraphDef = tensorflow.MetaGraphDef.$Properties;
export type SignatureDef = tensorflow.SignatureDef.$Properties;

export function decodeMetaGraph(bytes: Uint8Array, file: string): MetaGraphDef {
  guardProtobufDecode(bytes, META_GRAPH, file, 'TensorFlow MetaGraphDef');
  const meta = decodeProto(() => tensorflow.MetaGraphDef.decode(bytes), file, 'TensorFlow MetaGraphDef');
  return withLegacySignatures(meta, file);
}

const SIGNATURES_URL = /(^|\/)tensorflow\.serving\.Signatures$/;

/**
 * A SessionBundle export (export.meta, TF Serving before SavedModel) keeps its signatures in the
 * `serving_signatures` collection: one tensorflow.serving.Signatures in a google.protobuf.Any.
 * They become SignatureDefs as TF Serving's bundle shim up-converts them: the default
 * regression / classification signature is `serving_default` (inputs 'inputs'; outputs
 * 'outputs', or 'classes' and 'scores'); generic named signatures 'inputs' and 'outputs' make one
 * predict signature (their maps' tensors), `serving_default` when that key is free, else
 * `serving_default_from_named`; other named regression / classification signatures keep their names.
 * Dtypes and shapes come from the graph's nodes. SignatureDefs already present win.
 */
export function withLegacySignatures(meta: MetaGraphDef, file: string): MetaGraphDef {
  const anys = meta.collection_def?.serving_signatures?.any_list?.value ?? [];
  const any = anys.find((a) => SIGNATURES_URL.test(a.type_url ?? ''));
  if (!any?.value) return meta;
  const sigs = decodeProto(() => tensorflow.serving.Signatures.decode(any.value!), file, 'SessionBundle Signatures (serving_signatures)');
  const gd = meta.graph_def ?? {};
  const info = (binding: tensorflow.serving.TensorBinding.$Properties | null | undefined) => {
    const t = graphTensorInfo(gd, binding?.tensor_name ?? '');
    return { name: t.name, dtype: t.dtype, tensor_shape: shapeToProto(t.shape) };
  };
  const fromSignature = (s: tensorflow.serving.Signature.$Properties): SignatureDef | undefined => {
    if (s.regression_signature) {
      const r = s.regression_signature;
      return { method_name: 'tensorflow/serving/regress', inputs: { inputs: info(r.input) }, outputs: { outputs: info(r.output) } };
    }
    if (s.classification_signature) {
      const c = s.classification_signature;
      const outputs: SignatureDef['outputs'] = {};
      if (c.classes?.tensor_name) outputs.classes = info(c.classes);
      if (c.scores?.tensor_name) outputs.scores = info(c.scores);
      return { method_name: 'tensorflow/serving/classify', inputs: { inputs: info(c.input) }, outputs };
    }
    return undefined;
  };
  const out: Record<string, SignatureDef> = {};
  const def = sigs.default_signature ? fromSignature(sigs.default_signature) : undefined;
  if (def) out.serving_default = def;
  const named = sigs.named_signatures ?? {};
  const generic = (k: string) => named[k]?.generic_signature?.map;
  const ins = generic('inputs');
  const outs = generic('outputs');
  const predict = !!ins && !!outs;
  if (predict) {
    const map = (m: Record<string, tensorflow.serving.TensorBinding.$Properties>) => Object.fromEntries(Object.entries(m).map(([k, b]) => [k, info(b)]));
    out[def ? 'serving_default_from_named' : 'serving_default'] = { method_name: 'tensorflow/serving/predict', inputs: map(ins), outputs: map(outs) };
  }
  for (const [k, s] of Object.entries(named)) {
    if (predict && (k === 'inputs' || k === 'outputs')) continue;
    const d = fromSignature(s);
    if (d && !out[k]) out[k] = d;
  }
  return { ...meta, signature_def: { ...out, ...(meta.signature_def ?? {}) } };
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

/**
 * The checkpoint of a .meta: --checkpoint, else the folder's `checkpoint` state file, else the
 * .meta's own prefix; `<prefix>.index` (V2), else a V1 checkpoint `<prefix>` or `<prefix>-NNNNN-of-NNNNN`.
 */
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
  let index: Uint8Array | undefined;
  let error: unknown;
  try {
    index = await files.read(`${rel}.index`);
  } catch (e) {
    error = e;
  }
  if (index) return openCheckpoint(index, rel, files, `${rel}.index`);
  // a legacy V1 checkpoint (TensorFlow before 0.12): the prefix's own table, or its shards
  const v1 = await findV1Checkpoint(files, rel);
  if (v1) return openV1Checkpoint(v1ShardNames(v1.name), files, v1);
  throw new FormatError(
    `its checkpoint '${rel}.index' cannot be read, nor a V1 checkpoint '${rel}' or '${rel}-NNNNN-of-NNNNN' (give --checkpoint PREFIX): ${error instanceof Error ? error.message : String(error)}`,
    { file },
  );
}

/** A V1 checkpoint's first shard: `<prefix>-00000-of-NNNNN` in the folder's listing, else the table `<prefix>` or `<prefix>-00000-of-00001`. */
async function findV1Checkpoint(files: SiblingFiles, rel: string): Promise<{ name: string; bytes: Uint8Array } | undefined> {
  const candidates: string[] = [];
  try {
    const shard = new RegExp(`^${rel.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-00000-of-\\d{5}$`);
    candidates.push(...((await files.list?.()) ?? []).filter((n) => shard.test(n)).sort());
  } catch {
    // no listing: the usual names below
  }
  candidates.push(rel, `${rel}-00000-of-00001`);
  for (const name of candidates) {
    let bytes: Uint8Array;
    try {
      bytes = await files.read(name);
    } catch {
      continue;
    }
    // a damaged table that starts like a V1 one is read, so that its error is the one shown
    if (isV1Table(bytes) || (bytes[0] === 0 && bytes[1] === 0 && bytes[3] === 0x0a)) return { name, bytes };
  }
  return undefined;
}

/** The checkpoint of a .meta: a V2 bundle, or a legacy V1 checkpoint (SaveSlices tables). */
export async function metaCheckpointFor(_meta: MetaGraphDef, files: SiblingFiles, given: string | undefined, file: string): Promise<Checkpoint> {
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
  let inputs: FeedTensor[] = sig ? signatureTensors(sig[1].inputs, file) : [];
  const outputs = options.outputs?.length ? options.outputs : sig ? signatureTensors(sig[1].outputs, file).map((t) => t.name) : [];
  if (!outputs.length) {
    const names = Object.keys(meta.signature_def ?? {});
    if (names.length) {
      throw new UsageError(`'${file}' has ${names.length} signatures, none of them serving_default: give --signature NAME (${names.join(', ')}) or --outputs NAME[,NAME]`);
    }
    outputsRequired(gd.node ?? [], file);
  }
  // TensorFlow 2: the signature calls a traced function with the variables' handles as captured inputs
  let keys = new Map<string, string>();
  if (needsInlining(gd)) {
    const inlined = inlineFunctions(gd, { file, roots: outputs, ops: meta.meta_info_def?.stripped_op_list?.op ?? [] });
    keys = capturedVariableKeys(meta, gd, inlined.calls);
    gd = inlined.graphDef;
  }
  // serialized tf.Example inputs (classify / regress signatures, or any such placeholder when
  // --outputs is given): cut at the parsed features
  ({ graphDef: gd, inputs } = cutExampleInputs(gd, sig ? inputs : exampleInputs(gd), file));
  const names = new Set(checkpoint.bundle.entries.keys());
  // parts of partitioned variables, and variables the saver restores under another name
  const sources = variableSources(meta, meta.graph_def ?? {}, file);
  const fulls = new Map<string, Promise<Tensor>>();
  const full = (key: string) => {
    let t = fulls.get(key);
    if (!t) fulls.set(key, (t = checkpoint.tensor(key)));
    return t;
  };
  const graphDef = await freezeGraphDef(gd, {
    file,
    outputs,
    feeds: inputs.filter((i) => !isPlaceholder(gd, i.name)).map((i) => ({ name: i.name, dtype: i.dtype, shape: i.shape })),
    set: options.set,
    variable: async (name) => {
      const key = keys.get(name) ?? name;
      if (names.has(key)) return checkpoint.tensor(key);
      const source = sources.get(name);
      if (source?.slice) return partValue(checkpoint, name, source, full, file);
      if (source && names.has(source.key)) return checkpoint.tensor(source.key);
      const part = /^(.*)\/part_\d+$/.exec(name);
      if (part && checkpoint.bundle.entries.get(part[1]!)?.slices?.length) {
        throw new FormatError(
          `variable '${name}' is a part of the partitioned checkpoint tensor '${part[1]}', but neither a VariableDef (save_slice_info_def) nor a restore op of the graph says which slice`,
          { file },
        );
      }
      return undefined;
    },
  });
  const kept = new Set((graphDef.node ?? []).map((n) => n.name));
  return { graphDef, signature: sig?.[0], inputs: inputs.map((i) => i.name).filter((n) => kept.has(parseInput(n).node)), outputs };
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

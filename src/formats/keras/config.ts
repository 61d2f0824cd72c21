// Keras model configs (the `model_config` JSON of .h5 files, `config.json` of .keras archives,
// `modelTopology` of TF.js layers models) parsed into one shape: layers with their calls.
// Covers Sequential (Keras 2.1 list style, dict style, with or without an InputLayer) and
// functional models (Keras 2 nested-list inbound_nodes, Keras 3 `__keras_tensor__` args).
import { FormatError, UnsupportedError } from '../../ir/errors.js';

/** A reference to one output of one call of a layer: [layer name, call (node) index, tensor index]. */
export type KerasTensorRef = [string, number, number];

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface KerasLayer {
  className: string;
  name: string;
  config: JsonObject;
  /** per call of the layer: the tensors it was called on */
  calls: KerasTensorRef[][];
  /**
   * per call, the arguments besides its tensors: TFOpLambda / SlicingOpLambda, the TF function's
   * (tf-op-lambda.ts); MultiHeadAttention, its keyword flags (use_causal_mask, ...; attention.ts);
   * a Keras 3 op, its call's arguments (keras3-ops.ts)
   */
  opArgs?: OpCallArgs[];
  /** a Keras 3 op (keras.ops.*, `x + 1`, `x[:, 0]`), not a layer: its module, keras.src.ops.numpy, ... (keras3-ops.ts) */
  keras3Op?: string;
}

/**
 * The arguments of one call of a TF function recorded by Keras 2 (TFOpLambda): the first argument
 * and the others by parameter name, each tensor in them replaced by `{ __input__: k }`, the k-th
 * of the call's tensors. A Keras 3 op's call: `first` is the list of its positional arguments,
 * `kwargs` its keyword arguments, each tensor `{ __input__: k, dtype }`.
 */
export interface OpCallArgs {
  first: Json;
  kwargs: JsonObject;
  /** a layer whose tensors come by keyword (KEYWORD_INPUTS): the argument each of the call's tensors is */
  roles?: string[];
}

/** Keras 2's layers that record a call of a TF function (`x * 2`, `tf.concat`, `x[:, 0]`) by its API name. */
export const TF_OP_LAYERS = new Set(['TFOpLambda', 'SlicingOpLambda']);

export interface KerasModelSpec {
  /** 'Sequential' or 'Functional' (Keras 2 'Model') */
  className: string;
  name: string;
  layers: KerasLayer[];
  inputs: KerasTensorRef[];
  outputs: KerasTensorRef[];
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(file: string, what: string): never {
  throw new FormatError(`model config: ${what}`, { file });
}

function layerName(l: JsonObject, file: string): string {
  const cfg = l.config;
  const n = (isObject(cfg) ? cfg.name : undefined) ?? l.name;
  if (typeof n !== 'string' || !n) fail(file, `a ${String(l.class_name).slice(0, 80)} layer has no name`);
  // names end up in every message about the layer: keep them to what a Keras model uses
  if (n.length > MAX_NAME_LENGTH) fail(file, `a ${String(l.class_name).slice(0, 80)} layer's name has ${n.length} characters (starting '${n.slice(0, 40)}'), more than ${MAX_NAME_LENGTH}`);
  return n;
}

const MAX_NAME_LENGTH = 1024;

/** The first characters of a JSON value for a message (a value nested too deep for JSON.stringify shows as such). */
function preview(v: Json): string {
  try {
    return String(JSON.stringify(v)).slice(0, 80);
  } catch {
    return '(a value nested too deeply to show)';
  }
}

/** A node or tensor index of a reference: a non-negative integer. */
function index(v: Json | undefined, file: string, where: string): number {
  const n = Number(v ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) fail(file, `${where}: a layer input's node or tensor index is ${preview(v ?? null)}, not a non-negative integer`);
  return n;
}

/** The Keras 2 `[name, node, tensor(, kwargs)]` or Keras 3 `__keras_tensor__` form of one input. */
function parseRef(v: Json, file: string, where: string): KerasTensorRef {
  if (Array.isArray(v) && typeof v[0] === 'string') return [v[0], index(v[1], file, where), index(v[2], file, where)];
  if (isObject(v) && v.class_name === '__keras_tensor__' && isObject(v.config)) {
    const h = v.config.keras_history;
    if (Array.isArray(h) && typeof h[0] === 'string') return [h[0], index(h[1], file, where), index(h[2], file, where)];
  }
  fail(file, `${where}: cannot read a layer input from ${preview(v)}`);
}

/** Keras 3 call args: tensors, possibly nested in lists (Add()([a, b])); walked without recursion, however deep. */
function collectKeras3Args(args: Json, out: KerasTensorRef[], file: string, where: string): void {
  const stack: Json[] = [args];
  while (stack.length) {
    const v = stack.pop()!;
    if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]!);
    else if (isObject(v) && v.class_name === '__keras_tensor__') out.push(parseRef(v, file, where));
  }
}

/** Layers whose call takes `initial_state`: its tensors join the call's inputs after x, as Keras 2 and TF.js list them. */
const INITIAL_STATE_LAYERS = new Set(['LSTM', 'GRU', 'SimpleRNN', 'Bidirectional', 'ConvLSTM1D', 'ConvLSTM2D', 'ConvLSTM3D']);

/** Whether a keyword argument's value holds a tensor anywhere (Keras 3 `__keras_tensor__`, Keras 2 `[layer, node, tensor]`). */
function holdsTensor(v: Json, keras2: boolean): boolean {
  const stack: Json[] = [v];
  while (stack.length) {
    const x = stack.pop()!;
    if (Array.isArray(x)) {
      if (keras2 && typeof x[0] === 'string' && Number.isInteger(x[1]) && Number.isInteger(x[2])) return true;
      stack.push(...x);
    } else if (isObject(x)) {
      if (x.class_name === '__keras_tensor__') return true;
      stack.push(...Object.values(x));
    }
  }
  return false;
}

/**
 * A call's keyword arguments: a recurrent layer's `initial_state` tensors and a Softmax's `mask` are
 * appended to `refs`; any other keyword given a tensor (a `mask`, an attention layer's `value`) is refused by name
 * rather than dropped, which would build the layer without it.
 */
function keywordTensors(kwargs: Json | undefined, refs: KerasTensorRef[], layer: { className: string; name: string }, file: string, keras2: boolean): void {
  if (!isObject(kwargs)) return;
  for (const [key, v] of Object.entries(kwargs)) {
    if (!holdsTensor(v, keras2)) continue;
    if (key === 'initial_state' && INITIAL_STATE_LAYERS.has(layer.className) && !keras2) collectKeras3Args(v, refs, file, `layer '${layer.name}'`);
    // Softmax()(scores, mask=m): the mask joins the call's inputs after the scores
    else if (key === 'mask' && layer.className === 'Softmax') refs.push(parseRef(v, file, `layer '${layer.name}' argument 'mask'`));
    else throw new UnsupportedError(`Keras call argument '${key}' given a tensor`, `layer '${layer.name}' (${layer.className}) in ${file}`);
  }
}

const CONSTANT_VALUE = '_CONSTANT_VALUE';
const isKeras2Ref = (v: Json): v is [string, number, number, ...Json[]] => Array.isArray(v) && typeof v[0] === 'string' && v[0] !== CONSTANT_VALUE && Number.isInteger(v[1]) && Number.isInteger(v[2]);

/**
 * One call of a TFOpLambda / SlicingOpLambda as Keras 2 serializes it (keras/engine/node.py: the
 * input structure kept): its first argument, a tensor `[layer, node, tensor, kwargs]`, a constant
 * `['_CONSTANT_VALUE', -1, value, kwargs]` or a list of either (tf.concat's values), the keyword
 * arguments (every argument after the first, by name) riding on each of them; tensors in the
 * keyword arguments are `[layer, node, tensor]`.
 */
function parseOpCall(node: Json, file: string, name: string): { refs: KerasTensorRef[]; args: OpCallArgs } {
  const refs: KerasTensorRef[] = [];
  let kwargs: Json = {};
  const tensor = (v: Json): Json => {
    refs.push(parseRef(v, file, `layer '${name}'`));
    return { __input__: refs.length - 1 };
  };
  const entry = (v: Json): Json => {
    if (!Array.isArray(v)) fail(file, `layer '${name}': cannot read a TF function's argument from ${preview(v)}`);
    kwargs = v[3] ?? kwargs;
    return v[0] === CONSTANT_VALUE ? (v[2] ?? null) : tensor(v);
  };
  const single = isKeras2Ref(node) || (Array.isArray(node) && node[0] === CONSTANT_VALUE);
  const first = single ? entry(node) : Array.isArray(node) ? node.map(entry) : entry(node);
  if (!isObject(kwargs)) fail(file, `layer '${name}': a TF function's keyword arguments are ${preview(kwargs)}, not an object`);
  // tensors among the keyword arguments (tf.math.add(x, y=other)); one level of lists (tf.stack's
  // values by keyword); deeper lists are constants
  const swap = (v: Json): Json => (isKeras2Ref(v) && v.length === 3 ? tensor(v) : v);
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(kwargs)) out[k] = !Array.isArray(v) || (isKeras2Ref(v) && v.length === 3) ? swap(v) : v.map(swap);
  return { refs, args: { first, kwargs: out } };
}

/** Keras 3's modules of ops (keras.ops.add, keras.ops.concatenate, x[:, 0], ...) called in a functional model. */
const KERAS3_OPS = /^keras(\.src)?\.ops(\.|$)/;

/** How deep a Keras 3 op's arguments may nest (x[(slice, ...)] is 3 levels; a hostile file may nest thousands). */
const MAX_OP_ARG_DEPTH = 32;

/**
 * One call of a Keras 3 op as functional.py serialize_node writes it: {args, kwargs}, the call's
 * arguments as given (keras.ops.concatenate([a, b]) -> args [[a, b]]; `1 - x` -> args [1, x]),
 * each tensor `__keras_tensor__` with its keras_history and dtype; constants as plain JSON or
 * `__numpy__` / `__tensor__` / `__slice__` / `__ellipsis__` objects, kept for keras3-ops.ts.
 */
function parseKeras3OpCall(node: Json, file: string, name: string): { refs: KerasTensorRef[]; args: OpCallArgs } {
  if (!isObject(node)) fail(file, `layer '${name}': a Keras 3 op's inbound node is ${preview(node)}, not {args, kwargs}`);
  const refs: KerasTensorRef[] = [];
  const swap = (v: Json, depth: number): Json => {
    if (depth > MAX_OP_ARG_DEPTH) fail(file, `layer '${name}': a Keras 3 op's arguments nest more than ${MAX_OP_ARG_DEPTH} levels deep`);
    if (Array.isArray(v)) return v.map((x) => swap(x, depth + 1));
    if (!isObject(v)) return v;
    if (v.class_name === '__keras_tensor__') {
      refs.push(parseRef(v, file, `layer '${name}'`));
      const dtype = isObject(v.config) && typeof v.config.dtype === 'string' ? v.config.dtype : 'float32';
      return { __input__: refs.length - 1, dtype };
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x, depth + 1)]));
  };
  const args = node.args ?? [];
  const kwargs = node.kwargs ?? {};
  if (!Array.isArray(args)) fail(file, `layer '${name}': a Keras 3 op's args are ${preview(args)}, not a list`);
  if (!isObject(kwargs)) fail(file, `layer '${name}': a Keras 3 op's kwargs are ${preview(kwargs)}, not an object`);
  return { refs, args: { first: swap(args, 0), kwargs: swap(kwargs, 0) as JsonObject } };
}

/** Layers called on several tensors given by keyword (query, value, key): in this order among the call's inputs. */
const KEYWORD_INPUTS: Readonly<Record<string, readonly string[]>> = { MultiHeadAttention: ['query', 'value', 'key', 'query_mask', 'value_mask', 'key_mask', 'attention_mask'] };
/** Keyword tensors refused by name: Keras 3's explicit masks of MultiHeadAttention (a Keras mask is read from the layer that makes it). */
const REFUSED_KEYWORD_TENSORS = new Set(['query_mask', 'value_mask', 'key_mask']);
/** Layers called on a list of tensors whose call flags (use_causal_mask, return_attention_scores) nnport reads. */
const FLAGGED_CALLS = new Set(['Attention', 'AdditiveAttention']);

/**
 * One call of a layer whose tensors come by keyword (MultiHeadAttention(query, value, key=...)):
 * Keras 2 `[query, node, tensor, {value: [v, 0, 0], key: ...}]`, Keras 3 {args, kwargs}. The
 * tensors in KEYWORD_INPUTS order; the other keyword arguments as the call's flags.
 */
function parseKeywordCall(node: Json, order: readonly string[], file: string, name: string): { refs: KerasTensorRef[]; args: OpCallArgs } {
  const given = new Map<string, Json>();
  let kwargs: JsonObject = {};
  if (isObject(node)) {
    const args = Array.isArray(node.args) ? node.args : [];
    args.forEach((a, i) => order[i] && given.set(order[i]!, a));
    kwargs = isObject(node.kwargs) ? node.kwargs : {};
  } else if (Array.isArray(node)) {
    // Keras 2: the first argument's entry (wrapped in a list or not) carries the keyword arguments
    const first: Json = isKeras2Ref(node) ? node : (node[0] ?? null);
    if (!isKeras2Ref(first)) fail(file, `layer '${name}': cannot read a layer input from ${preview(node)}`);
    given.set(order[0]!, first.slice(0, 3));
    const kw: Json = first[3] ?? null;
    kwargs = isObject(kw) ? kw : {};
  } else fail(file, `layer '${name}': an inbound node is not a list`);
  const flags: JsonObject = {};
  for (const [k, v] of Object.entries(kwargs)) {
    if (order.includes(k)) given.set(k, v);
    else if (holdsTensor(v, true)) throw new UnsupportedError(`Keras call argument '${k}' given a tensor`, `layer '${name}' in ${file}`);
    else flags[k] = v;
  }
  const refs: KerasTensorRef[] = [];
  const roles: string[] = [];
  for (const k of order) {
    const v = given.get(k);
    if (v === undefined || v === null) continue;
    if (REFUSED_KEYWORD_TENSORS.has(k)) throw new UnsupportedError(`Keras call argument '${k}' given a tensor`, `layer '${name}' in ${file}`);
    refs.push(parseRef(v, file, `layer '${name}' argument '${k}'`));
    roles.push(k);
  }
  if (roles[0] !== order[0] || roles[1] !== order[1]) fail(file, `layer '${name}': called without its '${order[0]}' and '${order[1]}' tensors`);
  return { refs, args: { first: null, kwargs: flags, roles } };
}

/** The call flags of a layer called on a list (Attention([q, v], use_causal_mask=True)): Keras 2's ride on each input, Keras 3's are the node's kwargs. */
function callFlags(node: Json): JsonObject {
  if (isObject(node)) return isObject(node.kwargs) ? node.kwargs : {};
  const first = Array.isArray(node) ? node[0] : undefined;
  const kw = Array.isArray(first) ? first[3] : undefined;
  return isObject(kw) ? kw : {};
}

function parseCalls(inbound: Json | undefined, file: string, layer: { className: string; name: string }): KerasTensorRef[][] {
  const name = layer.name;
  if (inbound === undefined || inbound === null) return [];
  if (!Array.isArray(inbound)) fail(file, `layer '${name}': inbound_nodes is not a list`);
  return inbound.map((node) => {
    if (isObject(node)) {
      // Keras 3: { args: [...], kwargs: {...} }
      const refs: KerasTensorRef[] = [];
      collectKeras3Args(node.args ?? [], refs, file, `layer '${name}'`);
      keywordTensors(node.kwargs, refs, layer, file, false);
      return refs;
    }
    if (!Array.isArray(node)) fail(file, `layer '${name}': an inbound node is not a list`);
    // Keras 2: [layer, node, tensor, kwargs] per input (the call's keyword arguments ride on each)
    const extra: KerasTensorRef[] = [];
    for (const r of node) if (Array.isArray(r)) keywordTensors(r[3], extra, layer, file, true);
    return [...node.map((r) => parseRef(r, file, `layer '${name}'`)), ...extra];
  });
}

/** input_layers / output_layers: [[n, 0, 0], ...] or, for a single tensor in Keras 3, [n, 0, 0]. */
function parseEnds(v: Json | undefined, file: string, what: string): KerasTensorRef[] {
  if (!Array.isArray(v)) fail(file, `${what} is missing`);
  if (typeof v[0] === 'string') return [parseRef(v, file, what)];
  return v.map((r) => parseRef(r, file, what));
}

/** Parse a model config (the object with class_name and config). */
export function parseModelConfig(root: Json, file: string): KerasModelSpec {
  if (!isObject(root)) fail(file, 'not a JSON object');
  const className = root.class_name;
  if (typeof className !== 'string') fail(file, 'no class_name');
  const cfg = root.config;
  if (className === 'Sequential') return parseSequential(cfg ?? null, file);
  if (className === 'Model' || className === 'Functional') {
    if (!isObject(cfg) || !Array.isArray(cfg.layers)) fail(file, `${className} config has no layers`);
    const layers: KerasLayer[] = cfg.layers.map((l) => {
      if (!isObject(l) || typeof l.class_name !== 'string') fail(file, 'a layer entry has no class_name');
      const name = layerName(l, file);
      const config = isObject(l.config) ? l.config : {};
      if (typeof l.module === 'string' && KERAS3_OPS.test(l.module)) {
        if (l.inbound_nodes !== undefined && l.inbound_nodes !== null && !Array.isArray(l.inbound_nodes)) fail(file, `layer '${name}': inbound_nodes is not a list`);
        const calls = (l.inbound_nodes ?? []).map((node) => parseKeras3OpCall(node, file, name));
        return { className: l.class_name, name, config, calls: calls.map((c) => c.refs), opArgs: calls.map((c) => c.args), keras3Op: l.module };
      }
      const keywordInputs = KEYWORD_INPUTS[l.class_name];
      if ((TF_OP_LAYERS.has(l.class_name) || keywordInputs) && Array.isArray(l.inbound_nodes)) {
        const calls = l.inbound_nodes.map((node) => (keywordInputs ? parseKeywordCall(node, keywordInputs, file, name) : parseOpCall(node, file, name)));
        return { className: l.class_name, name, config, calls: calls.map((c) => c.refs), opArgs: calls.map((c) => c.args) };
      }
      const calls = parseCalls(l.inbound_nodes, file, { className: l.class_name, name });
      if (FLAGGED_CALLS.has(l.class_name) && Array.isArray(l.inbound_nodes)) return { className: l.class_name, name, config, calls, opArgs: l.inbound_nodes.map((node) => ({ first: null, kwargs: callFlags(node) })) };
      return { className: l.class_name, name, config, calls };
    });
    return {
      className: 'Functional',
      name: typeof cfg.name === 'string' ? cfg.name : 'model',
      layers,
      inputs: parseEnds(cfg.input_layers, file, 'input_layers'),
      outputs: parseEnds(cfg.output_layers, file, 'output_layers'),
    };
  }
  fail(file, `the model is a '${className}', not a Sequential or functional Model (subclassed models have no config to rebuild)`);
}

function parseSequential(cfg: Json, file: string): KerasModelSpec {
  // Keras <= 2.2.2 wrote the layer list as the config itself; later {name, layers}.
  const list = Array.isArray(cfg) ? cfg : isObject(cfg) && Array.isArray(cfg.layers) ? cfg.layers : fail(file, 'Sequential config has no layers');
  const name = isObject(cfg) && typeof cfg.name === 'string' ? cfg.name : 'sequential';
  const layers: KerasLayer[] = [];
  let prev: string | undefined;
  for (const l of list) {
    if (!isObject(l) || typeof l.class_name !== 'string') fail(file, 'a layer entry has no class_name');
    const config = isObject(l.config) ? l.config : {};
    const lname = layerName(l, file);
    if (!prev) {
      if (l.class_name !== 'InputLayer') {
        // no InputLayer: the first layer carries the input shape
        const shape = config.batch_input_shape ?? config.batch_shape ?? (Array.isArray(config.input_shape) ? [null, ...config.input_shape] : undefined) ?? nestedInputShape(l);
        if (!Array.isArray(shape)) fail(file, `the first layer '${lname}' gives no input shape (batch_input_shape)`);
        const inName = uniqueName(`${lname}_input`, list);
        layers.push({ className: 'InputLayer', name: inName, config: { name: inName, batch_input_shape: shape, dtype: config.dtype ?? 'float32' }, calls: [] });
        prev = inName;
      } else {
        layers.push({ className: 'InputLayer', name: lname, config, calls: [] });
        prev = lname;
        continue;
      }
    }
    layers.push({ className: l.class_name, name: lname, config, calls: [[[prev, 0, 0]]] });
    prev = lname;
  }
  if (layers.length === 0) fail(file, 'Sequential model without layers');
  return { className: 'Sequential', name, layers, inputs: [[layers[0]!.name, 0, 0]], outputs: [[prev!, 0, 0]] };
}

/** A model used as a Sequential's first layer (Sequential([base, ...])): the shape its own first input declares. */
function nestedInputShape(l: JsonObject): Json | undefined {
  let m: Json = l;
  for (let depth = 0; depth < 8 && isObject(m) && ['Sequential', 'Functional', 'Model'].includes(String(m.class_name)); depth++) {
    const cfg: Json = m.config ?? null;
    const list: Json[] = Array.isArray(cfg) ? cfg : isObject(cfg) && Array.isArray(cfg.layers) ? cfg.layers : [];
    // a functional model: its first input layer (input_layers [[name, 0, 0], ...] or Keras 3's [name, 0, 0])
    const ends: Json | undefined = isObject(cfg) ? cfg.input_layers : undefined;
    const first: Json | undefined = Array.isArray(ends) ? (typeof ends[0] === 'string' ? ends[0] : Array.isArray(ends[0]) ? ends[0][0] : undefined) : undefined;
    const layer: Json | undefined = first !== undefined ? list.find((x) => isObject(x) && isObject(x.config) && x.config.name === first) : list[0];
    if (!isObject(layer)) return undefined;
    const c = isObject(layer.config) ? layer.config : {};
    const shape = c.batch_input_shape ?? c.batch_shape ?? (Array.isArray(c.input_shape) ? [null, ...c.input_shape] : undefined);
    if (shape !== undefined) return shape;
    m = layer;
  }
  return undefined;
}

function uniqueName(base: string, list: Json[]): string {
  const taken = new Set(list.map((l) => (isObject(l) && isObject(l.config) ? String(l.config.name) : '')));
  let n = base;
  for (let i = 1; taken.has(n); i++) n = `${base}_${i}`;
  return n;
}

/** Keras 3's snake_case of a class name, used for the `layers/<name>` groups of model.weights.h5. */
export function toSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

// TensorFlow GraphDef -> IR Graph. Values keep TensorFlow's layout (NHWC where the graph is
// NHWC): convolutions, pools and batch norms of NHWC graphs become the channels-last `nnport`
// ops with the filters exactly as TensorFlow stores them (HWIO), everything else plain ONNX
// ops on the same data. Shape subgraphs whose inputs are known are computed while reading.
import type { DType } from '../../ir/dtypes.js';
import { FormatError, GraphError, UnsupportedError, UsageError } from '../../ir/errors.js';
import { implicitInputs, type Attr, type Dim, type Graph, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { NodeAttrs, outputKey, parseInput, type GraphDef, type NodeDef } from './graph-def.js';
import { tensorOf } from './fold.js';
import { OPS as PLAIN_OPS } from './ops.js';
import { QUANTIZED_OPS } from './quantized-ops.js';
import { SPACE_TO_BATCH_OPS, watchAtrous } from './space-to-batch.js';
import { DYNAMIC_STITCH_OPS } from './dynamic-stitch.js';
import { PARSE_EXAMPLE_OPS } from './parse-example.js';
import { checkListInputs, type TfList } from './tensor-lists.js';
import { fuseBias } from '../../passes/fuse-bias.js';
import { functionalizeTf1 } from './tf1-control-flow.js';

const OPS: Record<string, OpConvert> = {
  ...PLAIN_OPS,
  ...QUANTIZED_OPS,
  ...SPACE_TO_BATCH_OPS,
  ...DYNAMIC_STITCH_OPS,
  ...PARSE_EXAMPLE_OPS,
  Conv2D: watchAtrous(PLAIN_OPS.Conv2D!),
  DepthwiseConv2dNative: watchAtrous(PLAIN_OPS.DepthwiseConv2dNative!),
};

/** One output of a TensorFlow node as the reader knows it. */
export interface TfValue {
  /** IR value name; '' for a constant not yet needed as a value */
  name: string;
  dtype: DType;
  /** TensorFlow's shape (data order); undefined when the rank is unknown */
  shape?: Dim[];
  /** the value, when it is known while reading */
  value?: Tensor;
  /** every element lies in [lo, hi) (RandomUniform and what adds a constant to it) */
  uniform?: [number, number];
  /** for `uniform` values: the value holding their shape (RandomUniform's shape input) */
  shapeOf?: TfValue;
  /** preferred initializer name for a constant (its Const node's name) */
  constName?: string;
  /**
   * For a 1-D (or scalar) int value computed from a Shape: its elements, each a number or a
   * dimension of another value (unknown while reading, e.g. the batch).
   */
  dims?: ShapeElement[];
  /** a TensorList / TensorArray (tensor-lists.ts): how its elements are held */
  list?: TfList;
}

export type ShapeElement = number | { of: string; axis: number };

export interface GraphDefReadOptions {
  file: string;
  /** output nodes ("name" or "name:1"); default: the nodes nothing consumes, training ops excluded */
  outputs?: string[];
  /** fixed shapes for placeholders (`--input-shape NAME=d0,d1,...`) */
  inputShapes?: Record<string, number[]>;
  /** placeholders replaced by constants (`--set keep_prob=1.0`) */
  set?: Record<string, number>;
  /** graph name for the IR */
  name?: string;
  /** filled with each converted node's output shapes (for inspect) */
  shapes?: Map<string, (Dim[] | undefined)[]>;
  /** the function library If / While nodes run (default: the GraphDef's own) */
  library?: GraphDef['library'];
  /** inside a function converted as an If / While subgraph: the functions around it and the nodes made so far */
  flow?: { chain: string[]; budget: { nodes: number } };
  /** filled with each output's list (a TensorList result of an If branch), undefined for tensors */
  resultLists?: (TfList | undefined)[];
}

/** Ops that only train, save or initialize: never an inference output. */
export const TRAINING_OPS = new Set([
  'NoOp', 'Assign', 'AssignAdd', 'AssignSub', 'AssignVariableOp', 'SaveV2', 'Save', 'SaveSlices', 'RestoreV2', 'Restore', 'RestoreSlice',
  'MergeV2Checkpoints', 'ShardedFilename', 'StringJoin', 'ScalarSummary', 'HistogramSummary', 'ImageSummary', 'MergeSummary',
  'TensorSummary', 'TensorSummaryV2', 'ApplyGradientDescent', 'ApplyAdam', 'ApplyMomentum', 'ApplyRMSProp', 'ApplyAdagrad',
  'ResourceApplyGradientDescent', 'ResourceApplyAdam', 'ResourceApplyMomentum', 'ResourceApplyRMSProp', 'ResourceApplyAdagrad',
  'IsVariableInitialized', 'VarIsInitializedOp', 'Const', 'VariableV2', 'Variable', 'VarHandleOp', 'Placeholder', 'PlaceholderWithDefault',
  'Print', 'PrintV2', 'Assert', 'ReadVariableOp',
]);

/** A node's name is a training-only helper (gradients, optimizer, saver, summaries, initializers). */
export function isTrainingName(name: string): boolean {
  return /(^|\/)(gradients(_\d+)?|save(_\d+)?|Adam|GradientDescent|Momentum|RMSProp|Adagrad|summaries|init(_\d+)?|train|beta[12]_power)(\/|$)/.test(name);
}

/** Nodes nothing consumes (data or control) that are not training, saving or initializing: likely outputs. */
export function candidateOutputs(nodes: readonly NodeDef[]): string[] {
  const used = new Set<string>();
  for (const n of nodes) for (const i of n.input ?? []) used.add(parseInput(i).node);
  return nodes.filter((n) => !used.has(n.name ?? '') && !TRAINING_OPS.has(n.op ?? '') && !isTrainingName(n.name ?? '')).map((n) => n.name ?? '');
}

export function attr(type: 'int' | 'float' | 'string', value: number | string): Attr;
export function attr(type: 'ints' | 'floats', value: number[]): Attr;
export function attr(type: Attr['type'], value: unknown): Attr {
  return { type, value } as Attr;
}

/** The conversion of one node: its inputs, attributes and helpers to emit IR. */
export class NodeCtx {
  constructor(
    readonly cv: Converter,
    readonly def: NodeDef,
    readonly inputs: TfValue[],
    readonly attrs: NodeAttrs,
  ) {}

  get name(): string {
    return this.def.name ?? '';
  }

  get op(): string {
    return this.def.op ?? '';
  }

  get file(): string {
    return this.cv.file;
  }

  where(): string {
    return `node '${this.name}' (${this.op})`;
  }

  /** IR name of output i. */
  out(i = 0): string {
    return this.cv.reserve(outputKey(this.name, i));
  }

  tmp(suffix: string): string {
    return this.cv.fresh(`${this.name}/${suffix}`);
  }

  input(i: number): TfValue {
    const v = this.inputs[i];
    if (!v) throw new FormatError(`${this.where()} has ${this.inputs.length} inputs, needs at least ${i + 1}`, { file: this.file });
    return v;
  }

  /** IR name of a value, adding constants as initializers the first time they are used. */
  use(v: TfValue): string {
    return this.cv.use(v);
  }

  in(i: number): string {
    return this.use(this.input(i));
  }

  /** The constant value of input i; a dynamic one is unsupported here. */
  constant(i: number, what: string): Tensor {
    const v = this.input(i);
    if (!v.value) throw new UnsupportedError(`a computed ${what}`, `${this.where()} in '${this.file}' needs it as a constant (fix the input shape with --input-shape NAME=d0,d1,...)`);
    return v.value;
  }

  ints(i: number, what: string): number[] {
    return this.constant(i, what).toNumbers();
  }

  /** A new int64 initializer (shape operands of ONNX ops). */
  int64(values: number[], suffix: string, scalar = false): string {
    const name = this.tmp(suffix);
    this.cv.graph.initializers.set(name, Tensor.int64(scalar ? [] : [values.length], values));
    return name;
  }

  constTensor(t: Tensor, suffix: string): string {
    const name = this.tmp(suffix);
    this.cv.graph.initializers.set(name, t);
    return name;
  }

  /** input i as int64 for an ONNX shape operand: a constant becomes an int64 initializer, else a Cast. */
  int64Input(i: number, suffix: string): string {
    return this.int64InputOf(this.input(i), suffix);
  }

  int64InputOf(v: TfValue, suffix: string): string {
    if (v.value) return this.int64(v.value.toNumbers(), suffix, v.value.rank === 0);
    if (v.dtype === 'int64') return this.use(v);
    const out = this.tmp(suffix);
    this.emit('Cast', [this.use(v)], [out], { to: attr('int', 7) });
    return out;
  }

  emit(opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}, domain = ''): void {
    const n = this.cv.graph.nodes.length;
    const name = outputs[0] && outputs[0] !== outputKey(this.name, 0) ? `${this.name}/${opType}${n}` : this.name;
    this.cv.graph.nodes.push({ name: this.cv.nodeName(name), opType, domain, inputs, outputs, attrs });
  }

  value(name: string, dtype: DType, shape: Dim[] | undefined): TfValue {
    return { name, dtype, shape };
  }

  constantValue(t: Tensor): TfValue {
    return { name: '', dtype: t.dtype, shape: [...t.shape], value: t, constName: `${this.name}/folded` };
  }

  /** An op with the same output as its first input (Identity and friends): no node. */
  alias(i = 0): TfValue {
    return this.input(i);
  }

  dtypeAttr(name: string, fallback?: DType): DType {
    return this.attrs.dtype(name, fallback);
  }
}

export type OpConvert = (c: NodeCtx) => TfValue[];

export class Converter {
  readonly graph: Graph;
  private readonly names = new Set<string>();
  private readonly nodeNames = new Set<string>();
  private readonly tfNames: Set<string>;

  constructor(
    readonly file: string,
    readonly options: GraphDefReadOptions,
    nodes: readonly NodeDef[],
  ) {
    this.graph = { name: options.name ?? 'tensorflow', nodes: [], inputs: [], outputs: [], initializers: new Map(), opsets: { '': 17, nnport: 1 } };
    this.tfNames = new Set(nodes.map((n) => n.name ?? ''));
  }

  reserve(name: string): string {
    this.names.add(name);
    return name;
  }

  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.names.has(name) || this.tfNames.has(name) || this.graph.initializers.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  nodeName(base: string): string {
    let name = base;
    for (let k = 1; this.nodeNames.has(name); k++) name = `${base}_${k}`;
    this.nodeNames.add(name);
    return name;
  }

  /** A function body (If branch, While body) as an IR subgraph: the same conversion as a graph's. */
  subgraph(gd: GraphDef, options: GraphDefReadOptions): Graph {
    return graphDefToIr(gd, options);
  }

  use(v: TfValue): string {
    if (v.name) return v.name;
    if (v.uniform) throw new UnsupportedError('random values (RandomUniform)', `'${this.file}': only dropout masks that --set keep_prob=1.0 turns constant are supported`);
    if (!v.value) throw new GraphError('a value without a name or a constant');
    // a Const keeps its node's name (reserved for it among the TF names); folded values get fresh ones
    const own = v.constName && !this.names.has(v.constName) && !this.graph.initializers.has(v.constName);
    v.name = own ? this.reserve(v.constName!) : this.fresh(v.constName ?? 'const');
    this.graph.initializers.set(v.name, v.value);
    return v.name;
  }
}

/** Convert a GraphDef's inference subgraph (what `outputs` need) into an IR graph. */
export function graphDefToIr(gd: GraphDef, options: GraphDefReadOptions): Graph {
  // TF1 control flow (Switch / Merge, Enter / Exit / NextIteration / LoopCond) as If / While first
  ({ gd, options } = functionalizeTf1(gd, options));
  const file = options.file;
  const nodes = gd.node ?? [];
  const byName = new Map<string, NodeDef>();
  for (const n of nodes) {
    const name = n.name ?? '';
    if (!name) throw new FormatError('GraphDef has a node without a name', { file });
    if (byName.has(name)) throw new FormatError(`GraphDef has two nodes named '${name}'`, { file });
    byName.set(name, n);
  }
  const outputs = options.outputs?.length ? options.outputs : candidateOutputs(nodes);
  if (!outputs.length) throw new GraphError(`'${file}': the graph has no output node (give --outputs NAME)`);
  for (const o of outputs) {
    if (!byName.has(parseInput(o).node)) throw new UsageError(`output '${o}' is not a node of '${file}'`);
  }
  // an unnamed --input-shape is for the graph's only placeholder
  const shapes = { ...(options.inputShapes ?? {}) };
  if (shapes[''] !== undefined) {
    const ph = nodes.filter((n) => n.op === 'Placeholder');
    if (ph.length !== 1) throw new UsageError(`'${file}' has ${ph.length} placeholders: name the one --input-shape is for (NAME=d0,d1,...)`);
    shapes[ph[0]!.name ?? ''] = shapes['']!;
    delete shapes[''];
  }
  options = { ...options, inputShapes: shapes, library: options.library ?? gd.library };
  for (const k of Object.keys(shapes)) if (!byName.has(k)) throw new UsageError(`--input-shape names '${k}', which is not a node of '${file}'`);
  for (const k of Object.keys(options.set ?? {})) if (!byName.has(k)) throw new UsageError(`--set names '${k}', which is not a node of '${file}'`);

  const order = dataOrder(outputs.map((o) => parseInput(o).node), byName, file, options);

  const missing = new Map<string, string>();
  for (const n of order) {
    const op = n.op ?? '';
    if (!OPS[op] && !(options.set && (n.name ?? '') in options.set)) if (!missing.has(op)) missing.set(op, n.name ?? '');
  }
  if (missing.size) {
    throw new UnsupportedError(
      `TensorFlow op${missing.size > 1 ? 's' : ''} ${[...missing.keys()].join(', ')}`,
      `in '${file}': ${[...missing].map(([op, n]) => `${op} (node '${n}')`).join(', ')}`,
    );
  }

  const cv = new Converter(file, options, nodes);
  const values = new Map<string, TfValue[]>();
  for (const n of order) {
    const name = n.name ?? '';
    const inputs: TfValue[] = [];
    for (const ref of n.input ?? []) {
      const r = parseInput(ref);
      if (r.control) continue;
      const outs = values.get(r.node);
      const v = outs?.[r.index];
      if (!v) throw new FormatError(`node '${name}' reads output ${r.index} of '${r.node}', which has ${outs?.length ?? 0} output(s)`, { file });
      inputs.push(v);
    }
    checkListInputs(n.op ?? '', inputs, name, file);
    const ctx = new NodeCtx(cv, n, inputs, new NodeAttrs(n, file));
    const setValue = options.set?.[name];
    let outs: TfValue[];
    if (setValue !== undefined) {
      const dtype = ctx.attrs.dtype('dtype', 'float32');
      const t = tensorOf(dtype, [], [setValue]);
      outs = [{ name: '', dtype, shape: [], value: t, constName: name }];
    } else {
      outs = OPS[n.op ?? '']!(ctx);
    }
    values.set(name, outs);
    options.shapes?.set(name, outs.map((v) => v.shape));
  }

  for (const o of outputs) {
    const r = parseInput(o);
    const v = values.get(r.node)?.[r.index];
    if (!v) throw new UsageError(`output '${o}': node '${r.node}' has no output ${r.index}`);
    const key = outputKey(r.node, r.index);
    if (v.list && !v.name) throw new UnsupportedError(`a TensorList / TensorArray ${v.list.kind === 'handle' ? 'handle' : 'none of whose elements is set'} as a result`, `'${o}' in '${file}'`);
    options.resultLists?.push(v.list);
    if (v.name !== key) {
      // an output that is a Const itself (or folded to one): its initializer under another name than the output's
      if (!v.name && v.value) {
        v.name = cv.fresh(`${key}/value`);
        cv.graph.initializers.set(v.name, v.value);
      }
      const src = cv.use(v);
      const target = cv.reserve(key);
      cv.graph.nodes.push({ name: cv.nodeName(r.node), opType: 'Identity', domain: '', inputs: [src], outputs: [target], attrs: {} });
    }
    cv.graph.outputs.push({ name: key, dtype: v.dtype, shape: v.shape });
  }
  dropUnusedNodes(cv.graph);
  // a TF1 conv / dense layer adds its bias in a separate BiasAdd or Add node (grappler fuses
  // them only in optimized graphs): folded back into the layer, the one form every writer takes
  return fuseBias(cv.graph).graph;
}

/** Nodes nothing reads (a Shape subgraph whose Reshape took a static shape instead). */
function dropUnusedNodes(graph: Graph): void {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  // what If / Loop subgraphs read from this graph is used too
  const reads = (nodes: Node[]) => new Set(nodes.flatMap((n) => [...n.inputs, ...implicitInputs(n)]));
  for (;;) {
    const used = reads(graph.nodes);
    const keep = graph.nodes.filter((n) => n.outputs.some((o) => o && (used.has(o) || outputs.has(o))));
    if (keep.length === graph.nodes.length) break;
    graph.nodes = keep;
  }
  const used = reads(graph.nodes);
  for (const k of [...graph.initializers.keys()]) if (!used.has(k) && !outputs.has(k)) graph.initializers.delete(k);
}

/**
 * The nodes the outputs need through data edges, producers first. Iterative (deep graphs do
 * not overflow the stack); a cycle is a GraphError naming a node on it.
 */
function dataOrder(roots: string[], byName: Map<string, NodeDef>, file: string, options: GraphDefReadOptions): NodeDef[] {
  const state = new Map<string, 1 | 2>();
  const order: NodeDef[] = [];
  for (const root of roots) {
    if (state.get(root) === 2) continue;
    const stack: [string, number][] = [[root, 0]];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [name, i] = top;
      const n = byName.get(name)!;
      // a placeholder fixed by --set has no inputs to follow
      const inputs = options.set && name in options.set ? [] : (n.input ?? []);
      if (i < inputs.length) {
        top[1]++;
        const r = parseInput(inputs[i]!);
        if (r.control) continue;
        const dep = byName.get(r.node);
        if (!dep) throw new FormatError(`node '${name}' reads '${inputs[i]}', which is not a node of the graph`, { file });
        const s = state.get(r.node);
        if (s === 1) throw new GraphError(`'${file}': the graph has a cycle through node '${r.node}'`);
        if (s === 2) continue;
        state.set(r.node, 1);
        stack.push([r.node, 0]);
      } else {
        state.set(name, 2);
        order.push(n);
        stack.pop();
      }
    }
  }
  return order;
}

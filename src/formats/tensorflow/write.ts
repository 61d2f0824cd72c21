// IR graph -> frozen TensorFlow GraphDef (NHWC), using only ops TensorFlow 1.15+/2.x runs.
// An NCHW graph goes through the layout pass first (convs/pools/norms become channels-last
// nnport ops with HWIO weights, which is TensorFlow's own layout); constants are folded. Each
// IR op maps to TF nodes by a table row; ops with no row are listed together in one error. The rows
// live by op family in write-<family>.ts and write through the GraphDefWriter of write-context.ts.
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import type { Dim, Graph, Node } from '../../ir/graph.js';
import { inferShapes, opKey } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import { batchNormAsAffine } from '../../passes/batchnorm-affine.js';
import { constantNodesToInitializers, foldConstants } from '../../passes/fold-constants.js';
import { decomposeLayerNorm } from '../../passes/decompose-layernorm.js';
import { convTransposeAsValid, liftConvTranspose1d } from '../../passes/conv-transpose-valid.js';
import { ceilPoolAsPads } from '../../passes/ceil-pool-as-pads.js';
import { DEQUANTIZE_HINT } from '../../passes/dequantize.js';
import { fuseBias } from '../../passes/fuse-bias.js';
import { conv1dAs2d } from '../../passes/conv1d-as-2d.js';
import { needsChannelsLast, toChannelsLast } from '../../passes/layout.js';
import { shapesComputedAtRunTime, TF_RUN_TIME_OPERANDS, withDynamicDimsAt } from '../../passes/open-dims.js';
import { recurrentToLoop } from '../../passes/recurrent-to-loop.js';
import { unrollRecurrent } from '../../passes/unroll-recurrent.js';
import { createNodeEvaluator } from '../../runtime/evaluate.js';
import { tensorflow } from '../generated/tensorflow.js';
import type { WriteOptions } from '../model.js';
import { tfDataType } from './data-types.js';
import type { AttrValue, NodeDef } from './graph-def.js';
import { shapeToProto, tensorToTfProto } from './tensor-proto.js';
import { bidirectionalSequencesJoined } from './write-bidirectional.js';
import { collapseUnitReshapes } from './write-reshapes.js';
import { denseOnSequencesAsTensordot } from './write-tensordot.js';
import { T, tfName, type GraphDefWriter, type Row } from './write-context.js';
import { convPoolRows } from './write-conv-pool.js';
import { normalizationRows } from './write-normalization.js';
import { elementwiseRows } from './write-elementwise.js';
import { activationRows } from './write-activations.js';
import { shapeRows } from './write-shape-ops.js';
import { indexingRows } from './write-indexing.js';
import { reductionRows } from './write-reductions.js';
import { matrixRows } from './write-matrix.js';
import { lossRows } from './write-losses.js';
import { generatorRows } from './write-generators.js';
import { dynamicConvRows } from './write-dynamic-conv.js';
import { gridSampleRows } from './write-grid-sample.js';
import { roiAlignRows } from './write-roi-align.js';
import { spectralRows } from './write-spectral.js';
import { asFunctionDef, constantsIntoBodies, controlFlowRows, freshIn, prepareBodies, type FunctionScope } from './write-functions.js';


/**
 * The graph as the writer takes it: channels-last, constants folded, Constant nodes as initializers;
 * the bodies of its If / Loop nodes the same (write-functions.ts). `body`: `graph` is such a body,
 * whose open dims stay open (its inputs' shapes are the loop's or the branch's, not the model's).
 */
export async function prepareForGraphDef(graph: Graph, body = false): Promise<Graph> {
  const evaluate = await createNodeEvaluator();
  // TF has no LayerNormalization op: Keras' is its arithmetic in a GraphDef (decompose-layernorm.ts)
  let g = decomposeLayerNorm(constantsIntoBodies(graph)).graph;
  // TF1 GraphDefs hold static RNNs as their unrolled steps (src/passes/unroll-recurrent.ts), each
  // step's input apart as OpenCV's importer runs them; folded first so that a zero initial state
  // (PyTorch's Expand of zeros) is known as one
  // (over a run-time sequence length, a Loop over the steps, written as a While as TF2's Keras layers hold one: recurrent-to-loop.ts)
  if (g.nodes.some((n) => ['LSTM', 'GRU', 'RNN'].includes(n.opType))) {
    const native = ['Softplus', 'Softsign', 'ThresholdedRelu'] as const;
    g = recurrentToLoop(constantNodesToInitializers(foldConstants(g, { evaluate }).graph), 'a GraphDef', { native });
    g = unrollRecurrent(g, ['LSTM', 'GRU', 'RNN'], 'a GraphDef', { perStepInput: true, native });
    g = bidirectionalSequencesJoined(g);
  }
  // Shape subgraphs over a dynamic dim cannot fold into constants: where every value they compute
  // ends in a Resize's sizes, a Pad's pads, a Slice's bounds or a Reshape's target (a UNet decoder
  // upsampling to its skip's size), they are written as ops and the dims stay open
  // (src/passes/open-dims.ts); other such models, and those whose only open dim is the batch (they
  // stay importable by OpenCV, which runs no Shape subgraph), are written for dim 1
  // (a kept Loop may run a dim's number of times, a Scan over a run-time length, src/passes/scan-to-loop.ts: the batch too stays open)
  const keepsLoop = g.nodes.some((n) => n.opType === 'Loop' && !n.domain);
  const dynamic = g.inputs.some((v) => v.shape?.some((d, i) => (i > 0 || keepsLoop) && typeof d !== 'number'));
  if (!body && g.nodes.some((n) => n.opType === 'Shape' || n.opType === 'Size')) {
    const fold = (h: Graph) => constantNodesToInitializers(foldConstants(h, { evaluate }).graph);
    const open = dynamic ? fold(g) : undefined;
    g = open && shapesComputedAtRunTime(open, [fold(withDynamicDimsAt(g, 1)), fold(withDynamicDimsAt(g, 7))], TF_RUN_TIME_OPERANDS) ? { ...open, valueInfo: undefined } : withDynamicDimsAt(g, 1);
  }
  g = foldConstants(g, { evaluate }).graph;
  // ConvTranspose groups / dilation / 1-D / output_padding past the last tap: VALID + crop (src/passes/conv-transpose-valid.ts)
  // (and a ceil-mode pool of a run-time size, or an average one whose last window runs past its padded input, src/passes/ceil-pool-as-pads.ts)
  g = convTransposeAsValid(ceilPoolAsPads(g, { staticAverages: true }), { target: 'a GraphDef' }).graph;
  // (a body was laid out with the graph around it, src/passes/layout-subgraphs.ts: laying it out again
  // would re-lay what that pass left as plain ONNX ops on channels-last data, a computed Resize's sizes)
  if (!body && needsChannelsLast(g)) g = liftConvTranspose1d(foldConstants(toChannelsLast(g, { target: 'keras' }).graph, { evaluate }).graph).graph;
  g = denseOnSequencesAsTensordot(g);
  // a separate bias Add is written as TF's own form, the conv / MatMul followed by BiasAdd
  // (then a 1-D conv or pool as ExpandDims -> the 2-D op -> Squeeze, as TF writes a Conv1D)
  // and a BatchNormalization TF's FusedBatchNorm cannot take (not 4-D channels-last) as Mul + Add
  // by constants, TF's own inference-time folding (src/passes/batchnorm-affine.ts)
  g = batchNormAsAffine(conv1dAs2d(fuseBias(constantNodesToInitializers(g)).graph).graph, { keep: (n, rank) => n.domain === 'nnport' && rank === 4 }).graph;
  return prepareBodies(collapseUnitReshapes(g), (b) => prepareForGraphDef(b, true), 'a GraphDef');
}

class Writer implements GraphDefWriter {
  readonly nodes: NodeDef[] = [];
  /** the main graph's names are the GraphDef's (functions' nodes are renamed under their function's name) */
  private readonly names: Set<string>;
  readonly shapes: Map<string, { dtype: Tensor['dtype'] | null; shape: readonly Dim[] | null }>;

  constructor(
    readonly g: Graph,
    readonly file: string,
    readonly scope: FunctionScope & { perGraph?: PerGraph } = { names: new Set(), library: [] },
    root = false,
  ) {
    this.names = root ? scope.names : new Set();
    const inferred = inferShapes(g, { onError: 'unknown' }).values;
    this.shapes = new Map([...inferred].map(([k, v]) => [k, { dtype: v.dtype ?? null, shape: v.shape ?? null }]));
    for (const v of g.inputs) this.names.add(tfName(v.name));
    for (const k of g.initializers.keys()) this.names.add(tfName(k));
    for (const n of g.nodes) for (const o of n.outputs) this.names.add(tfName(o));
  }

  writeFunction(base: string, body: Graph): string {
    const fname = freshIn(this.scope.names, tfName(base).replace(/[^A-Za-z0-9_]/g, '_'));
    const w = new Writer(body, this.file, this.scope);
    const nodes = writeNodes(w, body, true);
    const fn = asFunctionDef(this.scope, fname, body, this.scope.perGraph ? this.scope.perGraph(nodes, body) : nodes, (v) => w.ref(v), (v) => w.dtype(v));
    this.scope.library.push({ ...fn, graph: body });
    return fname;
  }

  fresh(base: string): string {
    let name = tfName(base);
    for (let k = 1; this.names.has(name); k++) name = `${tfName(base)}_${k}`;
    this.names.add(name);
    return name;
  }

  add(name: string, op: string, input: string[], attr: Record<string, AttrValue> = {}): string {
    this.nodes.push({ name, op, input, attr });
    return name;
  }

  const(base: string, t: Tensor): string {
    const name = this.fresh(base);
    const value = constProto(t);
    return this.add(name, 'Const', [], { dtype: { type: value.dtype }, value: { tensor: value } });
  }

  /** TF's paddings: an int32 (rank, 2) matrix of [before, after] rows. */
  paddings(base: string, flat: number[]): string {
    return this.const(base, new Tensor('int32', [flat.length / 2, 2], Int32Array.from(flat)));
  }

  int32(base: string, values: number[], scalar = false): string {
    return this.const(base, new Tensor('int32', scalar ? [] : [values.length], Int32Array.from(values)));
  }

  dtype(v: string): Tensor['dtype'] {
    const init = this.g.initializers.get(v);
    if (init) return init.dtype;
    return this.shapes.get(v)?.dtype ?? this.g.inputs.find((i) => i.name === v)?.dtype ?? 'float32';
  }

  shape(v: string): readonly Dim[] | null {
    const init = this.g.initializers.get(v);
    if (init) return init.shape;
    return this.shapes.get(v)?.shape ?? null;
  }

  /** The TF reference of an IR value (node name; outputs i > 0 as name:i). */
  ref(v: string): string {
    return this.refs.get(v) ?? tfName(v);
  }

  readonly refs = new Map<string, string>();

  private producers?: Map<string, Node>;

  /** True when every element of `v` is known to be >= 0 from the op that makes it. */
  nonNegative(v: string, depth = 0): boolean {
    this.producers ??= new Map(this.g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as [string, Node])));
    const n = this.producers.get(v);
    if (!n || depth > 8) return false;
    const key = opKey(n);
    if (['Relu', 'Sigmoid', 'Softmax', 'Exp', 'Abs', 'Sqrt'].includes(key)) return true;
    if (key === 'Clip') {
      const lo = n.inputs[1] ? this.g.initializers.get(n.inputs[1])?.toNumbers()[0] : undefined;
      return lo !== undefined && lo >= 0;
    }
    if (['nnport::MaxPool', 'nnport::AveragePool', 'nnport::GlobalMaxPool', 'nnport::GlobalAveragePool', 'Identity', 'Dropout', 'Reshape', 'Flatten', 'Transpose'].includes(key)) return this.nonNegative(n.inputs[0]!, depth + 1);
    if (key === 'Concat' || key === 'Max') return n.inputs.every((i) => this.nonNegative(i, depth + 1));
    return false;
  }
}

/**
 * Small int32 constants (axes, shapes, paddings) in int_val: importers such as OpenCV's read
 * them from the typed field only; everything else as tensor_content.
 */
function constProto(t: Tensor): tensorflow.TensorProto.$Properties {
  if (t.dtype === 'int32' && t.size <= 64) return { dtype: tfDataType('int32'), tensor_shape: shapeToProto(t.shape), int_val: Array.from(t.data as Int32Array) };
  return tensorToTfProto(t);
}

/** Every IR op the writer takes, by opKey (channels-last ops as nnport::Op); each key in one table only. */
const ROWS: Record<string, Row> = Object.assign(
  {},
  convPoolRows,
  normalizationRows,
  elementwiseRows,
  activationRows,
  shapeRows,
  indexingRows,
  reductionRows,
  matrixRows,
  lossRows,
  generatorRows,
  dynamicConvRows,
  gridSampleRows,
  roiAlignRows,
  spectralRows,
  controlFlowRows,
);

/** Protobuf's limit on one message: TensorFlow (and every protobuf parser) refuses a larger GraphDef. */
export const GRAPHDEF_MAX_BYTES = 2 ** 31 - 1;

function tooLarge(bytes: number, limit: number, file: string): UnsupportedError {
  const gib = (bytes / 2 ** 30).toFixed(2);
  return new UnsupportedError(
    `a GraphDef of ${gib} GiB (protobuf caps a message at ${limit} bytes; TensorFlow cannot parse a larger .pb either)`,
    `'${file}': write .onnx (weights over the limit go to external data), .h5/.keras or safetensors instead, or keep the weights in a TensorFlow checkpoint beside an unfrozen graph`,
  );
}

const MULTI_OUTPUT = new Set(['Split', 'TopK', 'Dropout', 'SoftmaxCrossEntropyLoss', 'If', 'Loop']);

/** A rewrite of each graph's nodes (the main graph's, each function's) before they are final: the TF.js writer's quirks. */
export type PerGraph = (nodes: NodeDef[], g: Graph) => NodeDef[];

/** An IR graph as a frozen GraphDef's bytes. `maxBytes` lowers protobuf's 2 GiB limit (tests). */
export async function writeGraphDef(graph: Graph, options: WriteOptions & { maxBytes?: number } = {}): Promise<Uint8Array> {
  const file = options.fileName ?? '<output>';
  const limit = options.maxBytes ?? GRAPHDEF_MAX_BYTES;
  // refused before anything is encoded: the weights alone tell
  const weights = [...graph.initializers.values()].reduce((n, t) => n + t.byteLength, 0);
  if (weights > limit) throw tooLarge(weights, limit, file);
  const written = await graphDefNodes(graph, options);
  const library = written.library.length ? { library: { function: written.library.map((f) => f.def) } } : {};
  const bytes = tensorflow.GraphDef.encode({ node: written.nodes, ...library, versions: { producer: 27 } }).finish();
  if (bytes.length > limit) throw tooLarge(bytes.length, limit, file);
  return bytes;
}

/**
 * The frozen GraphDef's nodes before encoding, and the graph they were written from (as
 * prepareForGraphDef left it: its inputs / outputs are the Placeholders / output nodes, by tfName).
 * The TF.js graph-model writer (src/formats/tfjs/write-graph.ts) builds its model.json from these.
 */
export async function graphDefNodes(graph: Graph, options: WriteOptions = {}, perGraph?: PerGraph): Promise<{ nodes: NodeDef[]; graph: Graph; library: FunctionScope['library'] }> {
  const file = options.fileName ?? '<output>';
  const g = await prepareForGraphDef(graph);
  const missing = new Map<string, string>();
  const walk = (h: Graph) => {
    for (const n of h.nodes) {
      const key = opKey(n);
      if (!ROWS[key] && !missing.has(key)) missing.set(key, n.name);
      for (const a of Object.values(n.attrs)) if (a.type === 'graph') walk(a.value);
    }
  };
  walk(g);
  if (missing.size) {
    const quantized = missing.has('QuantizeLinear') || missing.has('DequantizeLinear');
    throw new UnsupportedError(`ops in a TensorFlow GraphDef: ${[...missing.keys()].map((k) => k.replace('::', '.')).join(', ')}`, `'${file}': ${[...missing].map(([k, n]) => `${k.replace('::', '.')} (node '${n}')`).join(', ')}${quantized ? `; ${DEQUANTIZE_HINT}` : ''}`);
  }
  const w = new Writer(g, file, { names: new Set(), library: [], perGraph }, true);
  const nodes = writeNodes(w, g, false);
  return { nodes: perGraph ? perGraph(nodes, g) : nodes, graph: g, library: w.scope.library };
}

/** The nodes of `g` (the main graph, or a function's body: `fn`, whose inputs are arguments, not Placeholders). */
function writeNodes(w: Writer, g: Graph, fn: boolean): NodeDef[] {
  const file = w.file;
  const used = new Set([...g.nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
  if (!fn) {
    for (const v of g.inputs) {
      if (g.initializers.has(v.name)) continue;
      w.add(tfName(v.name), 'Placeholder', [], { dtype: T(v.dtype), shape: { shape: shapeToProto(v.shape) } });
    }
  }
  // a graph output that is a constant (a graph of constants only, folded whole) is an Identity of a Const of
  // another name, as TF writes outputs: readers (nnport's, tensorflowjs_converter's) take no Const for an output
  const constOutputs = new Set(fn ? [] : g.outputs.map((o) => o.name).filter((o) => g.initializers.has(o)));
  for (const [k, t] of g.initializers) {
    if (constOutputs.has(k)) {
      w.add(tfName(k), 'Identity', [w.const(`${k}/value`, t)], { T: T(t.dtype) });
      continue;
    }
    const value = constProto(t);
    w.add(tfName(k), 'Const', [], { dtype: { type: value.dtype }, value: { tensor: value } });
  }
  for (const n of g.nodes) {
    const key = opKey(n);
    if (n.outputs.filter(Boolean).length !== 1 && !MULTI_OUTPUT.has(key) && !(key === 'Dropout' && !n.outputs.slice(1).some((o) => used.has(o)))) throw new UnsupportedError(`${n.opType} with ${n.outputs.length} outputs in a GraphDef`, `node '${n.name}'`);
    ROWS[key]!(w, n, tfName(n.outputs[0]!));
  }
  if (!fn) {
    // a graph output that is another output of a node (a Split's second part) gets a node of its own name
    for (const o of g.outputs) if (w.ref(o.name) !== tfName(o.name)) w.add(tfName(o.name), 'Identity', [w.ref(o.name)], { T: T(w.dtype(o.name)) });
    for (const o of g.outputs) if (!w.nodes.some((n) => n.name === tfName(o.name))) throw new FormatError(`output '${o.name}' was not written`, { file });
  }
  // a weight a row wrote anew (re-laid, folded into another constant) is read by no node: not written
  const read = new Set(w.nodes.flatMap((n) => (n.input ?? []).map((i) => i.replace(/^\^/, '').replace(/:\d+$/, ''))));
  const outs = new Set(g.outputs.map((o) => w.ref(o.name).replace(/:\d+$/, '')));
  const kept = w.nodes.filter((n) => n.op !== 'Const' || read.has(n.name ?? '') || outs.has(n.name ?? ''));
  if (fn) return kept;
  // the outputs no node reads last, in the graph's output order: a reader that takes a frozen graph's
  // outputs as its unread nodes in order (nnport's, tensorflowjs_converter's) lists them as the source did
  const last = new Set(g.outputs.map((o) => tfName(o.name)).filter((name) => !read.has(name)));
  const byName = new Map(kept.map((n) => [n.name ?? '', n]));
  return [...kept.filter((n) => !last.has(n.name ?? '')), ...[...last].flatMap((name) => byName.get(name) ?? [])];
}

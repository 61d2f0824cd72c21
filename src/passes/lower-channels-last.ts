// Lowering: a channels-last graph (nnport ops, as the Keras / TF / TFLite readers and the layout
// pass make them) -> plain ONNX ops for the ONNX writer. Each nnport op becomes Transpose ->
// the ONNX op (weights re-laid to ONNX's layout once) -> Transpose, and the layout engine then
// absorbs those transposes into value layouts, so what is left is only the transposes the
// data really needs (typically one at each channels-last input and output).
import { UnsupportedError } from '../ir/errors.js';
import { producersOf, readersOf, type Graph, type Node } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { someNodeDeep } from './layout-subgraphs.js';
import { channelsFirstPerm, channelsLastPerm, relayWeight, runLayoutEngine, type LayoutResult, type Perm } from './layout.js';

/** The ops of the `nnport` domain that are channels-last versions of ONNX ops. */
export const CHANNELS_LAST_OPS = new Set(['Conv', 'ConvTranspose', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'BatchNormalization', 'InstanceNormalization', 'LRN', 'Resize', 'DepthToSpace', 'SpaceToDepth']);

export const isChannelsLastOp = (n: Node): boolean => n.domain === 'nnport' && CHANNELS_LAST_OPS.has(n.opType);

/** Ops a transpose may sit behind and still count as the model's input/output layout. */
const IO_PASS = new Set(['Pad', 'Relu', 'Clip', 'Sigmoid', 'Tanh', 'LeakyRelu', 'HardSigmoid', 'HardSwish', 'Identity', 'Cast', 'Dropout', 'Neg', 'Abs', 'Exp', 'Softmax']);

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Permutation from a channels-last op's weight layout to ONNX's. */
function weightToOnnx(op: string, layout: string, r: number): Perm {
  const k = r - 2;
  if (op === 'Conv') {
    // HWIO (k..., I/g, O) -> (O, I/g, k...);  OHWI (O, k..., I/g) -> (O, I/g, k...)
    if (layout === 'HWIO') return [r - 1, r - 2, ...range(k)];
    if (layout === 'OHWI') return [0, r - 1, ...range(k).map((i) => i + 1)];
  } else {
    // HWOI (k..., O/g, I) -> (I, O/g, k...);  OHWI (O, k..., I) -> (I, O, k...)
    if (layout === 'HWOI') return [r - 1, r - 2, ...range(k)];
    if (layout === 'OHWI') return [r - 1, 0, ...range(k).map((i) => i + 1)];
  }
  throw new UnsupportedError(`${op} kernel_layout '${layout}'`);
}

/** True when the graph has channels-last nnport ops (it must be lowered before an ONNX writer sees it). */
export function hasChannelsLastOps(graph: Graph): boolean {
  return someNodeDeep(graph, isChannelsLastOp);
}

/**
 * Channels-last graph -> ONNX ops + the transposes the data needs (reported in `transposes`).
 * The model's inputs and outputs keep their (channels-last) layout.
 */
export function lowerChannelsLast(graph: Graph, options: { trackValues?: boolean } = {}): LayoutResult {
  if (!hasChannelsLastOps(graph)) return { graph, transposes: [], notes: [] };
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  const overridable = new Set(graph.inputs.map((v) => v.name));
  for (const node of graph.nodes) {
    if (!isChannelsLastOp(node)) continue;
    if (node.opType === 'Resize') {
      // already ONNX's Resize on the data as laid out
      rw.replaceNode(node, { domain: '' });
      continue;
    }
    if (node.opType === 'MaxPool' && node.outputs[1]) throw new UnsupportedError('lowering a channels-last MaxPool with an Indices output', `node '${node.name}'`);
    const x = node.inputs[0]!;
    const r = shapes.get(x)?.shape?.length ?? rw.constant(x)?.rank;
    if (r === undefined) throw new UnsupportedError(`lowering ${node.opType} '${node.name}'`, `the rank of its input '${x}' is unknown`);
    const inputs = [...node.inputs];
    inputs[0] = rw.add({ opType: 'Transpose', inputs: [x], attrs: { perm: { type: 'ints', value: channelsFirstPerm(r) } }, name: `${node.name}/to_nchw` });
    const attrs = { ...node.attrs };
    if (node.opType === 'Conv' || node.opType === 'ConvTranspose') {
      const layout = typeof attrs.kernel_layout?.value === 'string' ? attrs.kernel_layout.value : node.opType === 'Conv' ? 'HWIO' : 'HWOI';
      delete attrs.kernel_layout;
      const w = node.inputs[1]!;
      const perm = weightToOnnx(node.opType, layout, r);
      const relaid = overridable.has(w) ? undefined : relayWeight(rw, w, perm, 'onnx');
      inputs[1] = relaid ?? rw.add({ opType: 'Transpose', inputs: [w], attrs: { perm: { type: 'ints', value: perm } }, name: `${node.name}/weight_to_onnx` });
    }
    const out = node.outputs[0]!;
    const inner = rw.freshName(`${out}/nchw`);
    rw.replaceNode(node, { domain: '', inputs, attrs, outputs: [inner, ...node.outputs.slice(1)] });
    rw.add({ opType: 'Transpose', inputs: [inner], outputs: [out], attrs: { perm: { type: 'ints', value: channelsLastPerm(r) } }, name: `${node.name}/to_nhwc` });
  }
  const expanded = rw.toGraph();
  if (!Object.values(expanded.nodes).some((n) => n.domain === 'nnport')) delete expanded.opsets.nnport;
  const result = runLayoutEngine(expanded, { mode: 'channels-first', target: 'keras', inputs: () => undefined,
    outputs: 'restore',
    trackValues: options.trackValues,
    // a body is lowered on its own, its boundary kept as it is
    subgraph: (body) => lowerChannelsLast(body),
  });
  if (result.values) {
    // the source's values (the expansion's own Transposes and NCHW intermediates are not)
    const own = new Set<string>([...graph.inputs.map((v) => v.name), ...graph.nodes.flatMap((n) => n.outputs)]);
    for (const k of [...result.values.keys()]) if (!own.has(k)) result.values.delete(k);
  }
  // transposes at a graph input or output (through value-wise ops and Pads only) are the model's I/O staying channels-last
  const g = result.graph;
  const ins = new Set(g.inputs.map((v) => v.name));
  const outs = new Set(g.outputs.map((v) => v.name));
  const producer = producersOf(g.nodes);
  const readers = readersOf(g.nodes);
  const passThrough = (n: Node | undefined): boolean => !!n && (n.domain === '' || n.domain === 'ai.onnx') && (IO_PASS.has(n.opType));
  const fromInput = (v: string): boolean => {
    for (let cur = v, k = 0; k < 64; k++) {
      if (ins.has(cur)) return true;
      const p = producer.get(cur);
      if (!passThrough(p)) return false;
      cur = p!.inputs[0]!;
    }
    return false;
  };
  const toOutput = (v: string): boolean => {
    for (let cur = v, k = 0; k < 64; k++) {
      if (outs.has(cur)) return true;
      const r = readers.get(cur) ?? [];
      if (r.length !== 1 || !passThrough(r[0]) || r[0]!.inputs[0] !== cur) return false;
      cur = r[0]!.outputs[0]!;
    }
    return false;
  };
  for (const t of result.transposes) {
    const n = g.nodes.find((m) => m.name === t.node);
    if (n && (fromInput(n.inputs[0]!) || toOutput(n.outputs[0]!))) t.io = true;
  }
  if (!result.graph.nodes.some((n) => n.domain === 'nnport')) {
    const { nnport: _, ...rest } = result.graph.opsets;
    result.graph.opsets = rest;
  }
  return result;
}

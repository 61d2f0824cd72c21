// Dropping nnport::HybridInputQuantize: the on-the-fly int8 rounding of a TFLite hybrid op's
// float input (the TFLite reader's marker) is a TFLite kernel's behaviour that ONNX, Keras,
// TF.js and GraphDef have no op for. Without it the op computes in float on the int8 weights
// (weight-only quantization), which is what a user converting a dynamic-range model away from
// TFLite gets from TF's tools too; --dequantize drops it for the same reason. The same for
// nnport::HybridLSTM / HybridRNN (TFLite's hybrid sequence ops, rounding inside the recurrence):
// they become ONNX LSTM / RNN on the same weights.
import type { Graph } from '../ir/graph.js';
import { HYBRID_RECURRENT } from '../ir/ops/recurrent.js';

type GraphNode = Graph['nodes'][number];

const isHybridInput = (n: GraphNode): boolean => n.domain === 'nnport' && n.opType === 'HybridInputQuantize';

/** nnport::HybridLSTM / nnport::HybridRNN */
export const isHybridRecurrent = (n: GraphNode): boolean => n.domain === 'nnport' && HYBRID_RECURRENT[n.opType] !== undefined;

export const hasHybridInputs = (g: Graph): boolean => g.nodes.some((n) => isHybridInput(n) || isHybridRecurrent(n));

/**
 * Whether TFLite's writer can keep a marker: every op reading it is a conv / dense layer whose
 * weights are not plain float constants (int8 behind DequantizeLinear: a hybrid kernel rounds the
 * input itself), or it is a nnport::HybridLSTM / HybridRNN (written as TFLite's hybrid sequence
 * op). A hybrid LSTM read from TFLite with what ONNX LSTM has no place for (a projection, layer
 * norm) is unrolled onto dequantized float weights, and nnport.Svdf has no hybrid
 * writer: their rounding cannot be written.
 */
export function tfliteCanKeepHybridInput(g: Graph, marker: Graph['nodes'][number]): boolean {
  if (isHybridRecurrent(marker)) return true;
  const y = marker.outputs[0]!;
  if (g.outputs.some((v) => v.name === y)) return false;
  const readers = g.nodes.filter((n) => n.inputs.includes(y));
  return readers.length > 0 && readers.every((n) => {
    if (n.opType !== 'Conv' && n.opType !== 'Gemm' && n.opType !== 'MatMul') return false;
    if (n.inputs[0] !== y) return false;
    const w = g.initializers.get(n.inputs[1] ?? '');
    return !w || (w.dtype !== 'float32' && w.dtype !== 'float16');
  });
}

/**
 * The graph without its hybrid input roundings (each op reads the float value directly; a
 * nnport::HybridLSTM / HybridRNN becomes ONNX LSTM / RNN), and how many there were; `drop` picks
 * the markers and hybrid recurrent ops (default: all).
 */
export function dropHybridInputs(g: Graph, drop: (marker: Graph['nodes'][number]) => boolean = () => true): { graph: Graph; dropped: number } {
  const recurrent = new Set(g.nodes.filter((n) => isHybridRecurrent(n) && drop(n)));
  if (recurrent.size) {
    const onnx = (n: GraphNode): GraphNode => {
      const { symmetric: _, ...attrs } = n.attrs;
      return { ...n, opType: HYBRID_RECURRENT[n.opType]!, domain: '', attrs };
    };
    const r = dropHybridInputs({ ...g, nodes: g.nodes.map((n) => (recurrent.has(n) ? onnx(n) : n)) }, (m) => !isHybridRecurrent(m) && drop(m));
    const { nnport: _, ...onnxOnly } = r.graph.opsets;
    const graph = r.graph.nodes.some((n) => n.domain === 'nnport') ? r.graph : { ...r.graph, opsets: onnxOnly };
    return { graph, dropped: r.dropped + recurrent.size };
  }
  const markers = g.nodes.filter((n) => isHybridInput(n) && drop(n));
  if (!markers.length) return { graph: g, dropped: 0 };
  const source = new Map(markers.map((n) => [n.outputs[0]!, n.inputs[0]!]));
  const outputs = new Set(g.outputs.map((v) => v.name));
  const dropped = new Set(markers);
  const kept = g.nodes.filter((n) => !dropped.has(n)).map((n) => (n.inputs.some((i) => source.has(i)) ? { ...n, inputs: n.inputs.map((i) => source.get(i) ?? i) } : n));
  // a marker whose output is a graph output stays visible under its name
  const aliases = markers.filter((n) => outputs.has(n.outputs[0]!)).map((n) => ({ name: n.name, opType: 'Identity', domain: '', inputs: [n.inputs[0]!], outputs: [n.outputs[0]!], attrs: {} }));
  const nodes = [...kept, ...aliases];
  const { nnport: _, ...onnxOnly } = g.opsets;
  return { graph: { ...g, nodes, opsets: nodes.some((n) => n.domain === 'nnport') ? g.opsets : onnxOnly }, dropped: markers.length };
}

export const hybridDroppedNote = (dropped: number, why: string): string =>
  `${dropped} hybrid op input${dropped > 1 ? 's' : ''} (TFLite's on-the-fly int8 rounding of the float activations) dropped: ${why}; those ops compute in float on the int8 weights (weight-only)`;

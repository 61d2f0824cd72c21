// Dropping nnport::HybridInputQuantize: the on-the-fly int8 rounding of a TFLite hybrid op's
// float input (the TFLite reader's marker) is a TFLite kernel's behaviour that ONNX, Keras,
// TF.js and GraphDef have no op for. Without it the op computes in float on the int8 weights
// (weight-only quantization), which is what a user converting a dynamic-range model away from
// TFLite gets from TF's tools too; --dequantize drops it for the same reason.
import type { Graph } from '../ir/graph.js';

const isHybridInput = (n: Graph['nodes'][number]): boolean => n.domain === 'nnport' && n.opType === 'HybridInputQuantize';

export const hasHybridInputs = (g: Graph): boolean => g.nodes.some(isHybridInput);

/** The graph without its hybrid input roundings (each op reads the float value directly), and how many there were. */
export function dropHybridInputs(g: Graph): { graph: Graph; dropped: number } {
  const markers = g.nodes.filter(isHybridInput);
  if (!markers.length) return { graph: g, dropped: 0 };
  const source = new Map(markers.map((n) => [n.outputs[0]!, n.inputs[0]!]));
  const outputs = new Set(g.outputs.map((v) => v.name));
  const kept = g.nodes.filter((n) => !isHybridInput(n)).map((n) => (n.inputs.some((i) => source.has(i)) ? { ...n, inputs: n.inputs.map((i) => source.get(i) ?? i) } : n));
  // a marker whose output is a graph output stays visible under its name
  const aliases = markers.filter((n) => outputs.has(n.outputs[0]!)).map((n) => ({ name: n.name, opType: 'Identity', domain: '', inputs: [n.inputs[0]!], outputs: [n.outputs[0]!], attrs: {} }));
  const nodes = [...kept, ...aliases];
  const { nnport: _, ...onnxOnly } = g.opsets;
  return { graph: { ...g, nodes, opsets: nodes.some((n) => n.domain === 'nnport') ? g.opsets : onnxOnly }, dropped: markers.length };
}

export const hybridDroppedNote = (dropped: number, why: string): string =>
  `${dropped} hybrid op input${dropped > 1 ? 's' : ''} (TFLite's on-the-fly int8 rounding of the float activations) dropped: ${why}; those ops compute in float on the int8 weights (weight-only)`;

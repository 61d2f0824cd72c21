// TFLite has no HARD_SIGMOID builtin, and its quantized kernels clip only as ReLU, ReLU6 or
// ReLU1. A HardSigmoid left standing alone (a squeeze-excitation gate; x·HardSigmoid(x) is one
// HARD_SWISH already, fuse-activations.ts) is written here as Keras' MobileNetV3 writes its
// hard_sigmoid, and TF's converter then quantizes:
//   clip(αx + β, 0, 1)  =  ReLU6(6αx + 6β) · 1/6
// the Mul by 6α left out when it is 1 (PyTorch's α = 1/6), the ReLU6 a Clip(0, 6) that the writer
// fuses into the Add. The same values (up to float rounding: 6αx + 6β for α·x + β).
import { attrFloat, type Attr, type Graph } from '../ir/graph.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

export function hardSigmoidAsRelu6(graph: Graph): { graph: Graph; rewritten: string[] } {
  const targets = graph.nodes.filter((n) => n.opType === 'HardSigmoid' && (n.domain === '' || n.domain === 'ai.onnx'));
  if (!targets.length) return { graph, rewritten: [] };
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 13;
  const rw = new GraphRewriter(graph);
  const rewritten: string[] = [];
  for (const n of targets) {
    const where = n.name || n.outputs[0]!;
    const k = (name: string, v: number): string => rw.addInitializer(`${where}/${name}`, Tensor.float32([], [v]));
    const alpha = attrFloat(n, 'alpha', 0.2);
    const beta = attrFloat(n, 'beta', 0.5);
    let v = n.inputs[0]!;
    if (Math.abs(6 * alpha - 1) > 1e-6) v = rw.add({ opType: 'Mul', name: `${where}/scale`, inputs: [v, k('six_alpha', 6 * alpha)], attrs: {} });
    v = rw.add({ opType: 'Add', name: `${where}/shift`, inputs: [v, k('six_beta', 6 * beta)], attrs: {} });
    // Clip's bounds are attributes before opset 11, inputs from 11
    const clip: { inputs: string[]; attrs: Record<string, Attr> } = opset >= 11 ? { inputs: [v, k('zero', 0), k('six', 6)], attrs: {} } : { inputs: [v], attrs: { min: { type: 'float', value: 0 }, max: { type: 'float', value: 6 } } };
    v = rw.add({ opType: 'Clip', name: `${where}/relu6`, ...clip });
    const y = n.outputs[0]!;
    rw.removeNode(n);
    rw.addNode({ opType: 'Mul', name: `${where}/sixth`, inputs: [v, k('sixth', 1 / 6)], outputs: [y], attrs: {} });
    rewritten.push(where);
  }
  return { graph: rw.toGraph(), rewritten };
}

// A residual Add after a conv, and a Relu / Clip after that Add, fused into the conv's store for
// the webgpu backend (nnport::FusedConvAdd: Y = clamp(conv(X, W, B) + Z)): resnet's blocks end
// in conv -> Add -> Relu, mobilenet_v2's in a linear 1x1 conv -> Add, and each of those was two
// or one more dispatches over the whole activation. Runs after runtime/fuse-conv.ts (on its
// output: BatchNormalization already folded), only for runs whose first backend is webgpu;
// the op's kernel (ops/conv.ts) also computes it when the GPU program does not apply.
// The conv's output must have the Add as its one reader, and the Add's the activation, and
// neither be a graph output, so every value left is computed as before.
import { attrFloat, type Graph, type Node } from '../ir/graph.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { clampOf } from '../runtime/fuse-conv.js';

export const FUSED_CONV_ADD = { domain: 'nnport', opType: 'FusedConvAdd' } as const;

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/** A conv whose output is not clamped: a plain Conv, or nnport::FusedConv with open bounds. */
function unclampedConv(n: Node): boolean {
  if (n.outputs.length !== 1) return false;
  if (isOnnx(n) && n.opType === 'Conv') return true;
  return n.domain === 'nnport' && n.opType === 'FusedConv' && attrFloat(n, 'activation_min', -Infinity) === -Infinity && attrFloat(n, 'activation_max', Infinity) === Infinity;
}

/** Fuse conv -> Add (-> Relu / Clip) into nnport::FusedConvAdd; `graph` itself when there is none. */
export function fuseResidual(graph: Graph): Graph {
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 1;
  const rw = new GraphRewriter(graph);
  let fused = false;
  for (const conv of graph.nodes) {
    if (!unclampedConv(conv)) continue;
    const c = conv.outputs[0]!;
    const add = rw.soleConsumer(c);
    if (!add || !isOnnx(add) || add.opType !== 'Add' || add.inputs.length !== 2 || add.outputs.length !== 1) continue;
    if (add.inputs[0] === add.inputs[1]) continue;
    const z = add.inputs[0] === c ? add.inputs[1]! : add.inputs[0]!;
    let out = add.outputs[0]!;
    let lo = -Infinity;
    let hi = Infinity;
    const removed = [add];
    const act = rw.soleConsumer(out);
    const clamp = act && act.inputs[0] === out ? clampOf(rw, act, opset) : undefined;
    if (clamp) {
      [lo, hi] = clamp;
      removed.push(act!);
      out = act!.outputs[0]!;
    }
    const { activation_min: _, activation_max: __, ...attrs } = conv.attrs;
    for (const n of removed) rw.removeNode(n);
    rw.replaceNode(conv, {
      domain: FUSED_CONV_ADD.domain,
      opType: FUSED_CONV_ADD.opType,
      inputs: [conv.inputs[0]!, conv.inputs[1]!, conv.inputs[2] ?? '', z],
      outputs: [out],
      attrs: { ...attrs, activation_min: { type: 'float', value: lo }, activation_max: { type: 'float', value: hi } },
    });
    fused = true;
  }
  if (!fused) return graph;
  rw.sweepDeadNodes();
  rw.sweepDeadInitializers();
  return rw.toGraph();
}

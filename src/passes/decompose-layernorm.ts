// TFLite and TF GraphDefs have no LayerNormalization op: TF's converter writes Keras'
// LayerNormalization as its arithmetic, and this pass does the same with ONNX's (opset 17,
// what PyTorch exports nn.LayerNorm as), on the IR before the layout pass:
//   mean = ReduceMean(X, axes = axis .. rank-1, keepdims 1)
//   d    = X - mean
//   s    = Sqrt(ReduceMean(d * d, axes, keepdims 1) + epsilon)
//   Y    = d / s * Scale + B
// which is the definition (the population variance, epsilon inside the root). The optional
// Mean and InvStdDev outputs are `mean` and 1 / s. Each step is an op every writer has (MEAN,
// SUB, MUL, ADD, SQRT, DIV in TFLite; Mean, Sub, Mul, AddV2, Sqrt, RealDiv in TF), and the layout
// pass moves the reduction axes and the Scale / B constants like any other.
import { UnsupportedError } from '../ir/errors.js';
import { float32ToFloat16Bits } from '../ir/float16.js';
import { attrFloat, attrInt, type Attr, type Graph, type Node } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

export interface DecomposeLayerNormResult {
  graph: Graph;
  /** the LayerNormalization nodes written as their arithmetic, by name */
  decomposed: string[];
}

const isOnnx = (d: string): boolean => d === '' || d === 'ai.onnx';

export function decomposeLayerNorm(graph: Graph): DecomposeLayerNormResult {
  const targets = graph.nodes.filter((n) => n.opType === 'LayerNormalization' && isOnnx(n.domain));
  if (!targets.length) return { graph, decomposed: [] };
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 17;
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  const decomposed: string[] = [];
  for (const n of targets) {
    const where = n.name || n.outputs[0]!;
    const [x, scale, bias] = n.inputs as [string, string, string | undefined];
    const info = shapes.get(x) ?? graph.inputs.find((v) => v.name === x);
    const dtype = info?.dtype ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float16') throw new UnsupportedError(`LayerNormalization of ${dtype} data`, `node '${where}'`);
    const axes = normalizedAxes(n, info?.shape?.length, where);
    const reduceMean = (input: string, name: string): string => {
      // ReduceMean takes its axes as an attribute before opset 18, as an input from 18
      const extra: { inputs: string[]; attrs: Record<string, Attr> } =
        opset >= 18 ? { inputs: [rw.addInitializer(`${where}/axes`, Tensor.int64([axes.length], axes))], attrs: {} } : { inputs: [], attrs: { axes: { type: 'ints', value: axes } } };
      return rw.add({ opType: 'ReduceMean', name: `${where}/${name}`, inputs: [input, ...extra.inputs], attrs: { ...extra.attrs, keepdims: { type: 'int', value: 1 } } });
    };
    const scalar = (name: string, v: number): string =>
      rw.addInitializer(`${where}/${name}`, dtype === 'float16' ? new Tensor('float16', [], Uint16Array.of(float32ToFloat16Bits(v))) : Tensor.float32([], [v]));
    const op = (opType: string, name: string, inputs: string[], out?: string): string => {
      if (out) {
        rw.addNode({ opType, name: `${where}/${name}`, inputs, outputs: [out], attrs: {} });
        return out;
      }
      return rw.add({ opType, name: `${where}/${name}`, inputs, attrs: {} });
    };
    const [y, meanOut, invStdOut] = [n.outputs[0] || '', n.outputs[1] || '', n.outputs[2] || ''];
    const mean = reduceMean(x, 'mean');
    const d = op('Sub', 'centered', [x, mean]);
    const variance = reduceMean(op('Mul', 'squared', [d, d]), 'variance');
    const s = op('Sqrt', 'std', [op('Add', 'variance_eps', [variance, scalar('epsilon', attrFloat(n, 'epsilon', 1e-5))])]);
    rw.removeNode(n);
    if (meanOut) op('Identity', 'mean_out', [mean], meanOut);
    if (invStdOut) op('Div', 'inv_std', [scalar('one', 1), s], invStdOut);
    if (y) {
      const scaled = op('Mul', 'scaled', [op('Div', 'normalized', [d, s]), scale], bias ? undefined : y);
      if (bias) op('Add', 'shifted', [scaled, bias], y);
    }
    decomposed.push(where);
  }
  rw.sweep();
  return { graph: rw.toGraph(), decomposed };
}

/** The reduced axes, axis .. rank-1: non-negative when the rank is known, else counted from the end. */
function normalizedAxes(n: Node, rank: number | undefined, where: string): number[] {
  const axis = attrInt(n, 'axis', -1);
  if (rank !== undefined) {
    const a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) throw new UnsupportedError(`LayerNormalization axis ${axis} of rank-${rank} data`, `node '${where}'`);
    return Array.from({ length: rank - a }, (_, i) => a + i);
  }
  if (axis < 0) return Array.from({ length: -axis }, (_, i) => axis + i);
  throw new UnsupportedError(`LayerNormalization axis ${axis} of data of unknown rank`, `node '${where}'`);
}

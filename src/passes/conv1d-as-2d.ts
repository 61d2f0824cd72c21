// TFLite and TF GraphDefs have no 1-D convolution or pooling: TF's own converter writes a Conv1D
// (MaxPooling1D, AveragePooling1D) as EXPAND_DIMS -> CONV_2D (DEPTHWISE_CONV_2D, MAX_POOL_2D,
// AVERAGE_POOL_2D) -> SQUEEZE over a unit height. This pass does the same on the IR: a rank-3
// Conv / MaxPool / AveragePool, channels-last (nnport domain, (N, W, C)) or ONNX's (N, C, W),
// becomes Unsqueeze -> the 2-D op with kernel, strides, dilations 1 and pads 0 over the new unit
// dim -> Squeeze. That is exact: a window of height 1 over a height-1 input reads what the 1-D
// window reads, and SAME / VALID pad nothing there. The weight gets the unit dim too (a constant
// re-shaped, a DequantizeLinear of one re-shaped with its axis moved, anything else Unsqueezed).
// Element-wise ops after a Squeeze then move before it, and a Squeeze straight into an
// Unsqueeze of the same axis cancels, so that a chain of 1-D layers stays 4-D between its ends
// (the activation right after a conv is still there for the writer's fused_activation_function).
import { attrInt, attrInts, type Attr, type Graph, type Node } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

export interface Conv1dAs2dResult {
  graph: Graph;
  /** the 1-D ops rewritten, by node name */
  rewritten: string[];
}

const isOnnx = (d: string): boolean => d === '' || d === 'ai.onnx';
const ints = (value: number[]): Attr => ({ type: 'ints', value });

/** Ops that act on each element alone (any extra inputs are scalars or absent): they commute with a Squeeze. */
const ELEMENTWISE_UNARY = new Set(['Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'HardSigmoid', 'HardSwish', 'Softplus', 'Softsign', 'Identity', 'Abs', 'Neg', 'Exp', 'Log', 'Sqrt', 'Erf', 'Floor', 'Ceil', 'Round', 'Sign']);
/** Broadcasting element-wise ops: they commute with a Squeeze when every input is squeezed the same way or is a small constant. */
const ELEMENTWISE_BINARY = new Set(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'PRelu']);

/** The 1-D op this pass rewrites, with where the unit dim goes in its data and in its weight; undefined for anything else. */
function oneDimOp(n: Node, rank: (v: string) => number | undefined, weightRank: (v: string) => number | undefined): { dataAxis: number; weightAxis?: number } | undefined {
  if (n.opType !== 'Conv' && n.opType !== 'MaxPool' && n.opType !== 'AveragePool') return undefined;
  const channelsLast = n.domain === 'nnport';
  if (!channelsLast && !isOnnx(n.domain)) return undefined;
  if (n.opType === 'MaxPool' && n.outputs.filter(Boolean).length > 1) return undefined; // (the Indices output counts in the 1-D input)
  const kernel = attrInts(n, 'kernel_shape');
  const wRank = n.opType === 'Conv' ? weightRank(n.inputs[1]!) : undefined;
  const oneDim = kernel ? kernel.length === 1 : n.opType === 'Conv' ? wRank === 3 : false;
  if (!oneDim || (rank(n.inputs[0]!) ?? 3) !== 3) return undefined;
  if (n.opType !== 'Conv') return { dataAxis: channelsLast ? 1 : 2 };
  if (wRank !== undefined && wRank !== 3) return undefined;
  // nnport HWIO (k, I/g, O) -> (1, k, I/g, O); OHWI (O, k, I/g) -> (O, 1, k, I/g); ONNX (O, I/g, k) -> (O, I/g, 1, k)
  const layout = n.attrs.kernel_layout?.type === 'string' ? n.attrs.kernel_layout.value : 'HWIO';
  return { dataAxis: channelsLast ? 1 : 2, weightAxis: !channelsLast ? 2 : layout === 'OHWI' ? 1 : 0 };
}

/** `t` with a dim of size 1 inserted at `axis` (the same bytes). */
const withUnitDim = (t: Tensor, axis: number): Tensor => t.reshape([...t.shape.slice(0, axis), 1, ...t.shape.slice(axis)]);

/** The 2-D form's attributes: a leading 1 in kernel_shape / strides / dilations, pads [0, b, 0, e]. */
function attrs2d(n: Node): Record<string, Attr> {
  const out: Record<string, Attr> = { ...n.attrs };
  for (const k of ['kernel_shape', 'strides', 'dilations']) {
    const v = attrInts(n, k);
    if (v) out[k] = ints([1, ...v]);
  }
  const pads = attrInts(n, 'pads');
  if (pads) out.pads = ints([0, pads[0]!, 0, pads[1]!]);
  return out;
}

export function conv1dAs2d(graph: Graph): Conv1dAs2dResult {
  const rw = new GraphRewriter(graph);
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 17;
  let shapes: ReturnType<typeof inferShapes>['values'] | undefined;
  const rankOf = (v: string): number | undefined => {
    const t = rw.constant(v);
    if (t) return t.rank;
    shapes ??= inferShapes(graph, { onError: 'unknown' }).values;
    return shapes.get(v)?.shape?.length ?? graph.inputs.find((i) => i.name === v)?.shape?.length;
  };
  const weightRank = (v: string): number | undefined => {
    const p = rw.producer(v);
    if (p && p.opType === 'DequantizeLinear' && isOnnx(p.domain)) return rankOf(p.inputs[0]!);
    return rankOf(v);
  };
  // Unsqueeze / Squeeze of one axis: the axes as an attribute before opset 13, an input from 13
  const axesOf = (axis: number): { inputs: string[]; attrs: Record<string, Attr> } =>
    opset >= 13 ? { inputs: [rw.addInitializer('unit_axis', Tensor.int64([1], [axis]))], attrs: {} } : { inputs: [], attrs: { axes: ints([axis]) } };
  const unsqueeze = (x: string, axis: number, name: string): string => {
    const a = axesOf(axis);
    return rw.add({ opType: 'Unsqueeze', name, inputs: [x, ...a.inputs], attrs: a.attrs, outputs: [rw.freshName(`${x}/expanded`)] });
  };
  // value squeezed -> (the 4-D value it came from, the axis): the Squeezes this pass wrote
  const squeezed = new Map<string, { from: string; axis: number }>();
  const squeeze = (x: string, axis: number, out: string, name: string): void => {
    const a = axesOf(axis);
    rw.addNode({ opType: 'Squeeze', name, inputs: [x, ...a.inputs], attrs: a.attrs, outputs: [out] });
    squeezed.set(out, { from: x, axis });
  };

  const rewritten: string[] = [];
  for (const n of graph.nodes) {
    const op = oneDimOp(n, rankOf, weightRank);
    if (!op) continue;
    const inputs = [...n.inputs];
    inputs[0] = unsqueeze(n.inputs[0]!, op.dataAxis, `${n.name}/expand_dims`);
    if (op.weightAxis !== undefined) inputs[1] = unitWeight(rw, n, op.weightAxis, unsqueeze);
    const y = n.outputs[0]!;
    const y4 = rw.freshName(`${y}/2d`);
    rw.replaceNode(n, { inputs, outputs: [y4, ...n.outputs.slice(1)], attrs: attrs2d(n) });
    squeeze(y4, op.dataAxis, y, `${n.name}/squeeze`);
    rewritten.push(n.name);
  }
  if (!rewritten.length) return { graph, rewritten };

  // element-wise ops move before the Squeezes; a Squeeze -> Unsqueeze pair of one axis goes
  const work = [...squeezed.keys()];
  while (work.length) {
    const v = work.pop()!;
    const s = squeezed.get(v)!;
    for (const u of [...rw.consumers(v)]) {
      if (!rw.nodes.includes(u)) continue;
      if (u.opType === 'Unsqueeze' && isOnnx(u.domain) && u.inputs[0] === v && unsqueezeAxis(rw, u, opset) === s.axis && !rw.isPinned(u.outputs[0]!)) {
        rw.replaceUses(u.outputs[0]!, s.from);
        rw.removeNode(rw.latest(u));
        continue;
      }
      if (!isOnnx(u.domain) || u.outputs.length !== 1 || rw.isReadBySubgraph(u.outputs[0]!)) continue;
      let next: string[] | undefined;
      if (ELEMENTWISE_UNARY.has(u.opType)) {
        // (Clip's bounds, the other inputs, are scalars: the squeezed value must be the data input)
        if (u.inputs[0] !== v || u.inputs.indexOf(v, 1) > 0) continue;
        next = u.inputs.map((i, k) => (k === 0 ? s.from : i));
      } else if (ELEMENTWISE_BINARY.has(u.opType)) {
        next = u.inputs.map((i) => {
          const q = squeezed.get(i);
          if (q) return q.axis === s.axis ? q.from : '\0';
          // a constant aligned with the dims after the squeezed one broadcasts the same in 4-D
          const c = rw.constant(i);
          return c && c.rank <= 3 - s.axis ? i : '\0';
        });
        if (next.includes('\0')) next = undefined;
      }
      if (!next) continue;
      const out = u.outputs[0]!;
      const u4 = rw.freshName(`${out}/2d`);
      rw.replaceNode(u, { inputs: next, outputs: [u4] });
      squeeze(u4, s.axis, out, `${u.name}/squeeze`);
      work.push(out);
    }
  }
  rw.sweep();
  return { graph: rw.toGraph(), rewritten };
}

function unsqueezeAxis(rw: GraphRewriter, u: Node, opset: number): number | undefined {
  const axes = opset >= 13 ? rw.constant(u.inputs[1] ?? '')?.toNumbers() : attrInts(u, 'axes');
  return axes?.length === 1 ? axes[0] : undefined;
}

/** The conv weight with the unit dim at `axis`: a constant re-shaped, a DequantizeLinear of one re-shaped, else an Unsqueeze. */
function unitWeight(rw: GraphRewriter, n: Node, axis: number, unsqueeze: (x: string, axis: number, name: string) => string): string {
  const w = n.inputs[1]!;
  const t = rw.constant(w);
  if (t) return rw.addInitializer(`${w}/2d`, withUnitDim(t, axis));
  const dq = rw.producer(w);
  const q = dq && dq.opType === 'DequantizeLinear' && isOnnx(dq.domain) ? rw.constant(dq.inputs[0]!) : undefined;
  if (dq && q && q.rank === 3) {
    // per-channel scales: the channel axis moves one up when the unit dim goes before it
    const qAxis = attrInt(dq, 'axis', 1);
    const a = qAxis < 0 ? qAxis + 3 : qAxis;
    const quantized = rw.addInitializer(`${dq.inputs[0]}/2d`, withUnitDim(q, axis));
    const scale = rw.constant(dq.inputs[1]!);
    const attrs = scale && scale.size > 1 ? { ...dq.attrs, axis: { type: 'int', value: a >= axis ? a + 1 : a } as Attr } : dq.attrs;
    return rw.add({ opType: 'DequantizeLinear', name: `${dq.name}/2d`, inputs: [quantized, ...dq.inputs.slice(1)], attrs, outputs: [rw.freshName(`${w}/2d`)] });
  }
  return unsqueeze(w, axis, `${n.name}/weight_expand_dims`);
}

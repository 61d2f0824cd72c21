// Padding the NHWC writers can express: Keras / TF / TFLite convolutions and pools know only
// 'valid' and TF's 'same' (which puts the odd pixel at the end). On a channels-last graph, a
// Conv / AveragePool (counting pads) whose padding is neither becomes an explicit zero Pad + a
// 'valid' op, which writers map to ZeroPadding2D + padding='valid'. Max pooling's pad value is
// -inf, which no Keras layer pads with: its pads stay on the op for the writer to judge.
// Ceil-mode pooling becomes floor mode with the extra end padding made explicit.
import { attrInt, attrInts, attrString, type Attr, type Graph } from '../ir/graph.js';
import { forwardAxis, inferShapes, type AutoPad } from '../ir/ops/index.js';
import { GraphRewriter } from '../ir/rewriter.js';
import { Tensor } from '../ir/tensor.js';

export interface ExplicitPaddingResult {
  graph: Graph;
  notes: string[];
}

const OPS = new Set(['Conv', 'MaxPool', 'AveragePool']);
const ints = (value: number[]): Attr => ({ type: 'ints', value });

/** TF 'same' begin/end pads on one axis. */
function samePads(inp: number, k: number, s: number, d: number): [number, number] {
  const ek = (k - 1) * d + 1;
  const out = Math.ceil(inp / s);
  const total = Math.max(0, (out - 1) * s + ek - inp);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

export function makePaddingExplicit(graph: Graph): ExplicitPaddingResult {
  const shapes = inferShapes(graph, { onError: 'unknown' }).values;
  const rw = new GraphRewriter(graph);
  const notes: string[] = [];
  const opset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 17;
  for (const orig of graph.nodes) {
    const node = rw.latest(orig);
    if (node.domain !== 'nnport' || !OPS.has(node.opType)) continue;
    const x = node.inputs[0]!;
    const shape = shapes.get(x)?.shape;
    if (!shape || shape.length < 3) continue;
    const spatial = shape.slice(1, -1);
    if (!spatial.every((d) => typeof d === 'number')) continue;
    const r = spatial.length;
    const isMax = node.opType === 'MaxPool';
    if (isMax && node.outputs[1]) continue;
    let k = attrInts(node, 'kernel_shape');
    if (!k && node.opType === 'Conv') {
      const W = rw.constant(node.inputs[1] ?? '');
      const layout = attrString(node, 'kernel_layout', 'HWIO');
      if (W) k = layout === 'HWIO' ? W.shape.slice(0, r) : W.shape.slice(1, 1 + r);
    }
    if (!k) continue;
    const s = attrInts(node, 'strides') ?? new Array<number>(r).fill(1);
    const d = attrInts(node, 'dilations') ?? new Array<number>(r).fill(1);
    const autoPad = attrString(node, 'auto_pad', 'NOTSET') as AutoPad;
    const given = attrInts(node, 'pads') ?? new Array<number>(2 * r).fill(0);
    const ceil = attrInt(node, 'ceil_mode', 0) !== 0;
    const includePad = attrInt(node, 'count_include_pad', 0) !== 0;
    const pb: number[] = [];
    const pe: number[] = [];
    for (let i = 0; i < r; i++) {
      const inp = spatial[i] as number;
      const [out, b, e] = forwardAxis(inp, k[i]!, s[i]!, d[i]!, given[i]!, given[i + r]!, autoPad, ceil);
      // the end padding a floor-mode window needs to produce `out` outputs
      const ek = (k[i]! - 1) * d[i]! + 1;
      const need = Math.max(0, (out - 1) * s[i]! + ek - (inp + b));
      pb.push(b);
      pe.push(ceil ? Math.max(e, need) : e);
    }
    const zero = [...pb, ...pe].every((p) => p === 0);
    const same = spatial.every((inp, i) => {
      const [b, e] = samePads(inp as number, k![i]!, s[i]!, d[i]!);
      return b === pb[i] && e === pe[i];
    });
    const attrs: Record<string, Attr> = { ...node.attrs };
    delete attrs.auto_pad;
    delete attrs.ceil_mode;
    const overhang = pe.some((p, i) => p > given[i + r]!) && ceil;
    if (node.opType === 'AveragePool' && includePad && overhang) {
      notes.push(`AveragePool '${node.name}': ceil_mode with count_include_pad is kept (the ceil overhang is not counted, explicit padding would be)`);
      continue;
    }
    if (node.opType === 'AveragePool' && !includePad && !zero && !same) {
      // count-excluding average over padding that 'same' cannot express: nothing in Keras/TF computes it
      notes.push(`AveragePool '${node.name}': padding [${pb.join(', ')} | ${pe.join(', ')}] without counting it is kept (no Pad + valid equivalent)`);
      continue;
    }
    if (zero || (same && !(node.opType === 'AveragePool' && includePad))) {
      if (ceil || autoPad !== 'NOTSET') {
        attrs.pads = ints([...pb, ...pe]);
        rw.replaceNode(node, { attrs });
        if (ceil) notes.push(`${node.opType} '${node.name}': ceil_mode made floor mode with end pads [${pe.join(', ')}]`);
      }
      continue;
    }
    if (isMax) {
      // a -inf Pad has no Keras / TF.js layer: the pads stay on the (floor-mode) op, and each writer
      // decides (Keras zero-pads an input known to be non-negative, TFLite writes PADV2 or refuses)
      attrs.pads = ints([...pb, ...pe]);
      rw.replaceNode(node, { attrs });
      notes.push(`MaxPool '${node.name}': padding [${pb.join(', ')} | ${pe.join(', ')}] that TF 'same' cannot express stays on the op (its pad value is -inf)${ceil ? '; ceil_mode made floor mode' : ''}`);
      continue;
    }
    // an explicit Pad in NHWC order, then the op with no padding
    const padsNhwc = [0, ...pb, 0, 0, ...pe, 0];
    const value = isMax ? -Infinity : 0;
    const mode: Attr = { type: 'string', value: 'constant' };
    // a quantized input (QDQ: DequantizeLinear of per-tensor 8-bit data): the integers are padded with
    // the zero point, the real 0, before the DequantizeLinear, so the op stays between QDQ
    const dq = rw.producer(x);
    const q = dq?.inputs[0];
    const qType = q ? shapes.get(q)?.dtype : undefined;
    const zp = dq?.inputs[2] ? rw.constant(dq.inputs[2]) : undefined;
    if (dq && q && opset >= 11 && dq.opType === 'DequantizeLinear' && (dq.domain === '' || dq.domain === 'ai.onnx') && (qType === 'int8' || qType === 'uint8') && !rw.constant(q) && rw.constant(dq.inputs[1] ?? '')?.size === 1 && (!dq.inputs[2] || zp?.size === 1)) {
      const padValue = rw.addInitializer(`${node.name}/pad_value`, Tensor.scalar(qType, zp ? zp.toNumbers()[0]! : 0));
      const paddedQ = rw.add({ opType: 'Pad', inputs: [q, rw.addInitializer(`${node.name}/pads`, Tensor.int64([padsNhwc.length], padsNhwc)), padValue], attrs: { mode }, name: `${node.name}/pad` });
      const padded = rw.add({ opType: 'DequantizeLinear', inputs: [paddedQ, ...dq.inputs.slice(1)], attrs: dq.attrs, name: `${node.name}/pad_dequantize` });
      attrs.pads = ints(new Array<number>(2 * r).fill(0));
      if (node.opType === 'AveragePool') attrs.count_include_pad = { type: 'int', value: 0 };
      rw.replaceNode(node, { inputs: [padded, ...node.inputs.slice(1)], attrs });
      notes.push(`${node.opType} '${node.name}': padding [${pb.join(', ')} | ${pe.join(', ')}] that TF 'same' cannot express became an explicit Pad of the quantized input (its zero point) + valid`);
      continue;
    }
    // before opset 11 Pad takes pads and value as attributes
    const padded =
      opset >= 11
        ? rw.add({ opType: 'Pad', inputs: [x, rw.addInitializer(`${node.name}/pads`, Tensor.int64([padsNhwc.length], padsNhwc)), rw.addInitializer(`${node.name}/pad_value`, Tensor.float32([], [value]))], attrs: { mode }, name: `${node.name}/pad` })
        : rw.add({ opType: 'Pad', inputs: [x], attrs: { mode, pads: ints(padsNhwc), value: { type: 'float', value } }, name: `${node.name}/pad` });
    attrs.pads = ints(new Array<number>(2 * r).fill(0));
    if (node.opType === 'AveragePool') attrs.count_include_pad = { type: 'int', value: 0 };
    rw.replaceNode(node, { inputs: [padded, ...node.inputs.slice(1)], attrs });
    notes.push(`${node.opType} '${node.name}': padding [${pb.join(', ')} | ${pe.join(', ')}] that TF 'same' cannot express became an explicit Pad${isMax ? ' (-inf)' : ''} + valid`);
  }
  return { graph: rw.toGraph(), notes };
}

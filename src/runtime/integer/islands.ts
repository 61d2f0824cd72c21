// Recognise QDQ islands — DequantizeLinear inputs -> one float op [-> Relu/Clip] -> QuantizeLinear —
// and replace each by one integer node of domain `nnport.int` that the integer kernels run with
// TFLite's semantics. Node inputs of a fused op: for every quantized operand its integer value,
// scale and zero point (three names; '' '' '' for an absent optional operand), then the output
// scale and zero point. Islands that do not match a kernel stay as QDQ on the float runtime.
import { attrFloat, attrInt, attrInts, attrString, type Attr, type Graph, type Node } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import type { Tensor } from '../../ir/tensor.js';
import { hasDynamicTensors } from './dynamic-tensors.js';
import type { Requantization } from './requantization.js';

export const INTEGER_DOMAIN = 'nnport.int';

interface DqInfo {
  node: Node;
  raw: string;
  scale: string;
  zeroPoint: string;
  axis?: number;
  scaleT: Tensor;
}

interface Views {
  producer: Map<string, Node>;
  consumers: Map<string, Node[]>;
  outputs: Set<string>;
  init: Map<string, Tensor>;
}

function dqOf(v: Views, value: string): DqInfo | undefined {
  const n = v.producer.get(value);
  if (!n || n.opType !== 'DequantizeLinear' || n.domain) return undefined;
  const [raw, scale, zp] = n.inputs;
  const scaleT = scale ? v.init.get(scale) : undefined;
  if (!raw || !scaleT || !zp || !v.init.has(zp)) return undefined;
  return { node: n, raw, scale: scale!, zeroPoint: zp, axis: scaleT.size > 1 ? attrInt(n, 'axis', 1) : undefined, scaleT };
}

const onlyUsedBy = (v: Views, value: string, user: Node): boolean => !v.outputs.has(value) && (v.consumers.get(value) ?? []).every((n) => n === user);

/** Float activation bounds of a Relu / Clip with constant bounds, or undefined. */
function activationRange(v: Views, n: Node): [number, number] | undefined {
  if (n.domain) return undefined;
  if (n.opType === 'Relu') return [0, Infinity];
  if (n.opType !== 'Clip') return undefined;
  const bound = (name: string | undefined, dflt: number) => {
    if (!name) return dflt;
    const t = v.init.get(name);
    return t && t.size === 1 ? t.toNumbers()[0]! : undefined;
  };
  const lo = bound(n.inputs[1], -Infinity);
  const hi = bound(n.inputs[2], Infinity);
  return lo === undefined || hi === undefined ? undefined : [lo, hi];
}

type Matcher = (v: Views, core: Node, dqs: (DqInfo | undefined)[]) => { inputs: string[]; attrs: Record<string, Attr> } | undefined;

const triple = (d: DqInfo | undefined): string[] => (d ? [d.raw, d.scale, d.zeroPoint] : ['', '', '']);
const perTensor = (d: DqInfo | undefined): boolean => !!d && d.axis === undefined;

const conv: Matcher = (_v, core, dqs) => {
  const [x, w, b] = dqs;
  if (!perTensor(x) || !w || (core.inputs[2] && !b)) return undefined;
  const layout = attrString(core, 'kernel_layout', 'HWIO');
  if (layout !== 'OHWI' && layout !== 'HWIO') return undefined;
  // per-channel weights must be quantized along the output channels
  if (w.axis !== undefined && w.axis !== (layout === 'OHWI' ? 0 : 3)) return undefined;
  if (b && b.axis !== undefined && b.axis !== 0) return undefined;
  return { inputs: [...triple(x), ...triple(w), ...triple(b)], attrs: { ...core.attrs } };
};

/** TRANSPOSE_CONV as the TFLite reader gives it: OHWI weights (per-channel along O), 2-D, ungrouped, undilated, explicit pads. */
const convTranspose: Matcher = (_v, core, dqs) => {
  const [x, w, b] = dqs;
  if (!perTensor(x) || !w || (core.inputs[2] && !b)) return undefined;
  if (attrString(core, 'kernel_layout', 'HWOI') !== 'OHWI' || (w.axis !== undefined && w.axis !== 0)) return undefined;
  if (b && b.axis !== undefined && b.axis !== 0) return undefined;
  if (attrInt(core, 'group', 1) !== 1 || (attrInts(core, 'dilations') ?? [1, 1]).some((d) => d !== 1) || (attrInts(core, 'kernel_shape') ?? [0, 0]).length !== 2) return undefined;
  if (core.attrs.output_shape || !['NOTSET', 'VALID'].includes(attrString(core, 'auto_pad', 'NOTSET'))) return undefined;
  return { inputs: [...triple(x), ...triple(w), ...triple(b)], attrs: { ...core.attrs } };
};

const gemm: Matcher = (_v, core, dqs) => {
  const [x, w, b] = dqs;
  if (!perTensor(x) || !w || (core.inputs[2] && !b)) return undefined;
  if (attrInt(core, 'transA', 0) !== 0 || attrInt(core, 'transB', 0) !== 1 || attrFloat(core, 'alpha', 1) !== 1 || attrFloat(core, 'beta', 1) !== 1) return undefined;
  if (w.axis !== undefined && w.axis !== 0) return undefined;
  return { inputs: [...triple(x), ...triple(w), ...triple(b)], attrs: {} };
};

const allPerTensor: Matcher = (_v, core, dqs) => {
  if (dqs.length !== core.inputs.length || !dqs.every(perTensor)) return undefined;
  return { inputs: dqs.flatMap(triple), attrs: { ...core.attrs } };
};

const reduceMean: Matcher = (v, core, dqs) => {
  const x = dqs[0];
  if (!perTensor(x)) return undefined;
  const axesT = core.inputs[1] ? v.init.get(core.inputs[1]) : undefined;
  const axes = axesT ? axesT.toNumbers() : attrInts(core, 'axes');
  if (!axes) return undefined;
  return { inputs: triple(x), attrs: { axes: { type: 'ints', value: axes }, keepdims: { type: 'int', value: attrInt(core, 'keepdims', 1) } } };
};

/** The zero point dtype of a DQ operand is int16 (16x8 kernels that nnport runs only for int16). */
const int16Operand = (v: Views, d: DqInfo | undefined): boolean => !!d && v.init.get(d.zeroPoint)?.dtype === 'int16';

/** The QuantizeLinear reading `core`'s output has the same scale and zero point as operand `d`. */
function sameGridOut(v: Views, core: Node, d: DqInfo): boolean {
  const q = (v.consumers.get(core.outputs[0]!) ?? [])[0];
  if (!q || q.opType !== 'QuantizeLinear') return false;
  const [s, z] = [v.init.get(q.inputs[1] ?? ''), v.init.get(q.inputs[2] ?? '')];
  const [ds, dz] = [v.init.get(d.scale), v.init.get(d.zeroPoint)];
  return !!s && !!z && !!ds && !!dz && s.size === 1 && z.size === 1 && s.toNumbers()[0] === ds.toNumbers()[0] && z.toNumbers()[0] === dz.toNumbers()[0];
}

/** 8-bit PRELU, both operands per-tensor (the slope a constant behind its DequantizeLinear). */
const prelu8: Matcher = (v, core, dqs) => {
  if (dqs.length !== 2 || !dqs.every(perTensor) || !dqs.every((d) => ['int8', 'uint8'].includes(v.init.get(d!.zeroPoint)?.dtype ?? ''))) return undefined;
  return { inputs: dqs.flatMap(triple), attrs: {} };
};

/** LEAKY_RELU on int8 / uint8 / int16 data, per-tensor. */
const leakyRelu: Matcher = (v, core, dqs) => {
  const x = dqs[0];
  if (!perTensor(x) || !['int8', 'uint8', 'int16'].includes(v.init.get(x!.zeroPoint)?.dtype ?? '')) return undefined;
  return { inputs: triple(x), attrs: { alpha: { type: 'float', value: attrFloat(core, 'alpha', 0.01) } } };
};

/**
 * The new height and width of Resize sizes computed as Concat(Slice(Shape(x), 0, 1), [h, w],
 * Slice(Shape(x), 3, 4)) over the Resize's input x (the TFLite reader's form under a dynamic batch), or undefined.
 */
function spatialSizes(v: Views, sizes: string | undefined, x: DqInfo): number[] | undefined {
  const cat = sizes ? v.producer.get(sizes) : undefined;
  if (!cat || cat.opType !== 'Concat' || cat.domain || cat.inputs.length !== 3) return undefined;
  const hw = v.init.get(cat.inputs[1]!);
  const sliceOfShape = (name: string, from: number) => {
    const s = v.producer.get(name);
    const shape = s?.opType === 'Slice' && !s.domain ? v.producer.get(s.inputs[0]!) : undefined;
    const [starts, ends] = [v.init.get(s?.inputs[1] ?? ''), v.init.get(s?.inputs[2] ?? '')];
    const ofX = shape?.inputs[0] === x.raw || shape?.inputs[0] === x.node.outputs[0];
    return shape?.opType === 'Shape' && !shape.domain && ofX && s!.inputs.length === 3 && starts?.toNumbers().join() === `${from}` && ends?.toNumbers().join() === `${from + 1}`;
  };
  if (!hw || hw.size !== 2 || !sliceOfShape(cat.inputs[0]!, 0) || !sliceOfShape(cat.inputs[2]!, 3)) return undefined;
  return hw.toNumbers();
}

/** BATCH_MATMUL of two activations, both int16 or both int8 (a constant side is written as FULLY_CONNECTED). */
const batchMatMul: Matcher = (v, _core, dqs) => {
  const dtypes = dqs.map((d) => (d ? v.init.get(d.zeroPoint)?.dtype : undefined));
  if (dqs.length !== 2 || !dqs.every(perTensor) || dtypes[0] !== dtypes[1] || (dtypes[0] !== 'int16' && dtypes[0] !== 'int8') || dqs.some((d) => v.init.has(d!.raw))) return undefined;
  return { inputs: dqs.flatMap(triple), attrs: {} };
};

/** int16 RESIZE_BILINEAR on one grid (TFLite's ResizeBilinearInteger copies no parameters: in and out must agree). */
const resizeBilinear16: Matcher = (v, core, dqs) => {
  const x = dqs[0];
  if (!perTensor(x) || !int16Operand(v, x) || !sameGridOut(v, core, x!)) return undefined;
  if (attrString(core, 'mode', 'nearest') !== 'linear') return undefined;
  const ctm = attrString(core, 'coordinate_transformation_mode', 'half_pixel');
  if (!['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric'].includes(ctm)) return undefined;
  const scales = core.inputs[2] ? v.init.get(core.inputs[2]) : undefined;
  const sizes = core.inputs[3] ? v.init.get(core.inputs[3]) : undefined;
  const attrs: Record<string, Attr> = { coordinate_transformation_mode: { type: 'string', value: ctm } };
  const spatial = sizes ? undefined : spatialSizes(v, core.inputs[3], x!);
  if (sizes && sizes.size === 4) attrs.sizes = { type: 'ints', value: sizes.toNumbers() };
  else if (spatial) attrs.sizes = { type: 'ints', value: [-1, ...spatial, -1] };
  else if (scales && scales.size === 4) attrs.scales = { type: 'floats', value: scales.toNumbers() };
  else return undefined;
  return { inputs: triple(x), attrs };
};

const MATCHERS: Record<string, Matcher> = {
  'nnport::Conv': conv,
  'nnport::ConvTranspose': convTranspose,
  Gemm: gemm,
  Add: allPerTensor,
  Sub: allPerTensor,
  Mul: allPerTensor,
  'nnport::AveragePool': allPerTensor,
  'nnport::MaxPool': allPerTensor,
  Softmax: allPerTensor,
  Sigmoid: allPerTensor,
  Tanh: allPerTensor,
  HardSwish: allPerTensor,
  Concat: allPerTensor,
  ReduceMean: reduceMean,
  LeakyRelu: leakyRelu,
  MatMul: batchMatMul,
  PRelu: prelu8,
  Resize: resizeBilinear16,
  'nnport::Resize': resizeBilinear16,
};

export interface IntegerOptions {
  /**
   * How conv and add results are requantized: 'reference' (default) is TFLite's reference
   * kernels (fixed-point multiplier, double rounding; what TFLite Micro runs), 'xnnpack' the
   * XNNPACK delegate through which the TFLite interpreter runs int8 CONV_2D/DEPTHWISE_CONV_2D,
   * per-tensor FULLY_CONNECTED and BATCH_MATMUL (float32 scale, round half to even), ADD/SUB (its
   * own fixed-point grid) and LEAKY_RELU (multipliers in 1/256 steps); a per-channel
   * FULLY_CONNECTED there rounds its fixed-point product once (the builtin kernel). TRANSPOSE_CONV
   * and the 16-bit kernels take TFLite's fixed point under both (the interpreter runs them on its
   * builtin kernels, not XNNPACK). 'builtin' is the interpreter without its delegate, as it runs a
   * model with dynamic-sized tensors (which 'xnnpack' switches to by itself): TFLite's fixed point,
   * FULLY_CONNECTED rounding its product once, QUANTIZE dividing in double.
   * They differ by one step on rare values, which deep models amplify.
   */
  requantization?: Requantization;
  /**
   * Which implementation runs the integer kernels: 'wasm' (default; the SIMD kernels: 8-bit
   * data, and 16x8 conv/depthwise/fully-connected) or 'typescript' (their scalar twins, which
   * define the arithmetic). Both give the same bits.
   */
  kernels?: 'wasm' | 'typescript';
  /**
   * Whether 8-bit activations stay in WASM memory from one integer kernel to the next instead of
   * being copied out to the host and back in around each (src/wasm/resident.ts). runInteger
   * does so by default unless the caller gives its own ops or backends, onValue or
   * keepIntermediates; `false` turns it off. For fuseQdqIslands: mark the fused RESIDENT_OPS
   * (attribute `resident`) to leave their results there.
   */
  resident?: boolean;
}

/** The fused ops that take resident activations as they are (their inputs go through one view) and may leave their 8-bit results in WASM memory. */
export const RESIDENT_OPS: readonly string[] = ['Conv', 'Gemm', 'Add', 'Sub', 'Mul', 'AveragePool', 'MaxPool', 'ReduceMean'];

/** The values the subgraphs of `nodes` (If / Loop / Scan bodies, nested ones too) read from around them, by name. */
function readInsideSubgraphs(nodes: readonly Node[], into = new Set<string>()): Set<string> {
  for (const n of nodes) {
    for (const a of Object.values(n.attrs)) {
      for (const g of a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : []) {
        for (const m of g.nodes) for (const i of m.inputs) if (i) into.add(i);
        readInsideSubgraphs(g.nodes, into);
      }
    }
  }
  return into;
}

/**
 * The graph with its QDQ islands fused into `nnport.int` nodes (a new graph; the input is
 * untouched), and those of its If / Loop bodies (TFLite's IF / WHILE run the same integer kernels).
 * Under 'xnnpack' a model with dynamic-sized tensors runs as 'builtin' throughout: the interpreter
 * does not apply its XNNPACK delegate to it (measured: a QUANTIZE ahead of a RESHAPE to a run-time
 * shape divides in double as the builtin kernel does, and the FULLY_CONNECTED after it rounds its
 * fixed point once; XNNPACK's rules put 4 of 65,536 outputs one step off; recurrent WHILE bodies
 * that grow their outputs likewise).
 */
export function fuseQdqIslands(graph: Graph, options: IntegerOptions = {}): Graph {
  return fuseWithBodies(graph, options.requantization === 'xnnpack' && (hasDynamicTensors(graph) || hasQuantizedAbove6d(graph)) ? { ...options, requantization: 'builtin' } : options);
}

/**
 * Whether a quantized tensor of the graph is above 6-D: the interpreter's XNNPACK delegate creates no such
 * value, and then fails for the whole graph ('Restored original execution plan'): every op runs its builtin
 * kernel (measured: a 7-D QDQ MUL then ADD, merged by lower-high-rank.ts, 2 steps off under 'xnnpack', 0 under 'builtin').
 */
function hasQuantizedAbove6d(graph: Graph): boolean {
  const qdq = graph.nodes.filter((n) => !n.domain && (n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear'));
  if (!qdq.length) return false;
  const values = inferShapes(graph, { record: false, onError: 'unknown' }).values;
  const rank = (v: string | undefined) => (v ? (graph.initializers.get(v)?.shape.length ?? values.get(v)?.shape?.length ?? graph.inputs.find((i) => i.name === v)?.shape?.length ?? 0) : 0);
  return qdq.some((n) => rank(n.inputs[0]) > 6 || rank(n.outputs[0]) > 6);
}

function fuseWithBodies(graph: Graph, options: IntegerOptions): Graph {
  const fused = fuseGraphIslands(graph, options);
  if (!fused.nodes.some((n) => Object.values(n.attrs).some((a) => a.type === 'graph' || a.type === 'graphs'))) return fused;
  const nodes = fused.nodes.map((n) => {
    const entries = Object.entries(n.attrs);
    if (!entries.some(([, a]) => a.type === 'graph' || a.type === 'graphs')) return n;
    const attrs: Record<string, Attr> = {};
    for (const [k, a] of entries) {
      attrs[k] = a.type === 'graph' ? { type: 'graph', value: fuseWithBodies(a.value, options) } : a.type === 'graphs' ? { type: 'graphs', value: a.value.map((g) => fuseWithBodies(g, options)) } : a;
    }
    return { ...n, attrs };
  });
  return { ...fused, nodes, opsets: { ...fused.opsets, [INTEGER_DOMAIN]: 1 } };
}

function fuseGraphIslands(graph: Graph, options: IntegerOptions): Graph {
  // a value a body reads by name is used as a graph output is: kept, never fused away
  const v: Views = { producer: new Map(), consumers: new Map(), outputs: new Set([...graph.outputs.map((o) => o.name), ...readInsideSubgraphs(graph.nodes)]), init: graph.initializers };
  for (const n of graph.nodes) {
    for (const o of n.outputs) if (o) v.producer.set(o, n);
    for (const i of n.inputs) {
      if (!i) continue;
      let c = v.consumers.get(i);
      if (!c) v.consumers.set(i, (c = []));
      c.push(n);
    }
  }
  const replaced = new Map<Node, Node>();
  const removed = new Set<Node>();
  const requantizes: { q: Node; d: DqInfo }[] = [];
  const shared: { q: Node; d: DqInfo }[] = [];
  for (const q of graph.nodes) {
    if (q.opType !== 'QuantizeLinear' || q.domain) continue;
    const [qIn, ys, yz] = q.inputs;
    const ysT = ys ? v.init.get(ys) : undefined;
    if (!qIn || !ysT || ysT.size !== 1 || !yz || !v.init.has(yz)) continue;
    let core = v.producer.get(qIn);
    if (!core || removed.has(core) || replaced.has(core)) continue;
    // Q(DQ(x)): TFLite's int -> int QUANTIZE (requantize). A DQ other ops read too is the reader's
    // one DequantizeLinear per integer tensor when those ops are integer islands as well (a
    // DenseNet's pooled features go on into the next conv and are requantized into a concat): decided
    // once every island is known. Where something reads its float output (a Loop, an op run in
    // float), the file holds a real DEQUANTIZE and this is a float -> int QUANTIZE.
    if (core.opType === 'DequantizeLinear' && !core.domain) {
      const d = dqOf(v, qIn);
      if (d && d.axis === undefined) (onlyUsedBy(v, qIn, q) ? requantizes : shared).push({ q, d });
      continue;
    }
    let act: Node | undefined;
    let range: [number, number] | undefined;
    if ((range = activationRange(v, core)) && onlyUsedBy(v, core.outputs[0]!, q)) {
      act = core;
      core = v.producer.get(core.inputs[0]!);
      if (!core || !onlyUsedBy(v, core.outputs[0]!, act)) continue;
    } else if (!onlyUsedBy(v, qIn, q)) continue;
    if (removed.has(core) || replaced.has(core) || core.outputs.length !== 1) continue;

    const key = core.domain ? `${core.domain}::${core.opType}` : core.opType;
    const match = MATCHERS[key];
    if (!match) continue;
    const dataInputs = ['ReduceMean', 'Resize', 'nnport::Resize'].includes(key) ? core.inputs.slice(0, 1) : core.inputs;
    const dqs = dataInputs.map((i) => (i ? dqOf(v, i) : undefined));
    const m = match(v, core, dqs);
    if (!m) continue;
    const attrs: Record<string, Attr> = { ...m.attrs };
    if (options.requantization && ['Conv', 'Gemm', 'Add', 'Sub', 'Mul', 'LeakyRelu', 'Sigmoid', 'MatMul'].includes(core.opType)) attrs.requantization = { type: 'string', value: options.requantization };
    if (options.kernels) attrs.kernels = { type: 'string', value: options.kernels };
    if (options.resident && RESIDENT_OPS.includes(core.opType)) attrs.resident = { type: 'int', value: 1 };
    if (range) attrs.activation = { type: 'floats', value: range.map((x) => (Number.isFinite(x) ? x : x > 0 ? 3.4e38 : -3.4e38)) };
    replaced.set(q, { name: q.name, opType: core.opType, domain: INTEGER_DOMAIN, inputs: [...m.inputs, ys!, yz], outputs: [...q.outputs], attrs });
    removed.add(core);
    if (act) removed.add(act);
  }
  // (the DQ's readers: islands, or requantizes themselves, as a tensor requantized into several concats)
  const integerReader = new Set<Node>([...removed, ...requantizes.map((r) => r.q), ...shared.map((r) => r.q)]);
  for (const { q, d } of shared) if (!v.outputs.has(q.inputs[0]!) && (v.consumers.get(q.inputs[0]!) ?? []).every((n) => integerReader.has(n))) requantizes.push({ q, d });
  for (const { q, d } of requantizes) {
    replaced.set(q, { name: q.name, opType: 'Requantize', domain: INTEGER_DOMAIN, inputs: [...triple(d), q.inputs[1]!, q.inputs[2]!], outputs: [...q.outputs], attrs: options.requantization ? { requantization: { type: 'string', value: options.requantization } } : {} });
  }
  // XNNPACK's QUANTIZE (f32 -> qs8/qu8) rounds half to even; TFLite's kernels (int16 too) half away from zero, the
  // builtin one after a division in double
  const quantize8 = options.requantization && options.requantization !== 'reference' ? graph.nodes.filter((n) => n.opType === 'QuantizeLinear' && !n.domain && !replaced.has(n) && ['int8', 'uint8'].includes(graph.initializers.get(n.inputs[2] ?? '')?.dtype ?? '')) : [];
  const rounding: Record<string, Attr> = options.requantization === 'xnnpack' ? { rounding: { type: 'string', value: 'half-even' } } : {};
  for (const q of quantize8) replaced.set(q, { ...q, attrs: { ...q.attrs, ...rounding, requantization: { type: 'string', value: options.requantization! } } });
  // the float -> int16 QUANTIZE has a WASM kernel and a TypeScript twin too
  if (options.kernels) {
    for (const q of graph.nodes) {
      if (q.opType !== 'QuantizeLinear' || q.domain || replaced.has(q)) continue;
      replaced.set(q, { ...q, attrs: { ...q.attrs, kernels: { type: 'string', value: options.kernels } } });
    }
  }
  if (!replaced.size) return graph;
  let nodes = graph.nodes.filter((n) => !removed.has(n)).map((n) => replaced.get(n) ?? n);
  // DequantizeLinear nodes whose float output nothing reads any more
  for (;;) {
    const read = new Set<string>([...graph.outputs.map((o) => o.name), ...readInsideSubgraphs(nodes)]);
    for (const n of nodes) for (const i of n.inputs) if (i) read.add(i);
    const kept = nodes.filter((n) => !(n.opType === 'DequantizeLinear' && !n.domain && !read.has(n.outputs[0]!)));
    if (kept.length === nodes.length) break;
    nodes = kept;
  }
  nodes = foldPadsIntoConvs(nodes, graph);
  return { ...graph, nodes, opsets: { ...graph.opsets, [INTEGER_DOMAIN]: 1 } };
}

/**
 * A constant PAD of an integer tensor with its zero point, read only by an integer conv (TFLite
 * writes one before each strided or converted-from-PyTorch conv), becomes the conv's own
 * padding: a padded element minus the zero point is 0, exactly what a skipped tap adds. Saves
 * copying the activation.
 */
function foldPadsIntoConvs(nodes: Node[], graph: Graph): Node[] {
  const init = graph.initializers;
  const producer = new Map<string, Node>();
  const readers = new Map<string, number>();
  for (const n of nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const i of n.inputs) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  }
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const folded = new Map<Node, Node>();
  const dropped = new Set<Node>();
  for (const conv of nodes) {
    if (conv.domain !== INTEGER_DOMAIN || conv.opType !== 'Conv') continue;
    const padded = conv.inputs[0]!;
    const pad = producer.get(padded);
    if (!pad || pad.opType !== 'Pad' || pad.domain || dropped.has(pad) || readers.get(padded) !== 1 || outputs.has(padded)) continue;
    if (attrString(pad, 'mode', 'constant') !== 'constant' || pad.inputs[3] || !pad.inputs[1]) continue;
    const padsT = init.get(pad.inputs[1]);
    const valueT = pad.inputs[2] ? init.get(pad.inputs[2]) : undefined;
    const zpT = conv.inputs[2] ? init.get(conv.inputs[2]) : undefined;
    if (!padsT || !zpT || zpT.size !== 1 || (pad.inputs[2] && !valueT)) continue;
    const value = valueT ? valueT.toNumbers()[0]! : 0;
    const p = padsT.toNumbers();
    // NHWC: only H and W padded, never cropped
    if (p.length !== 8 || p.some((v) => v < 0) || p[0] || p[3] || p[4] || p[7] || value !== zpT.toNumbers()[0]) continue;
    const autoPad = attrString(conv, 'auto_pad', 'NOTSET');
    if (autoPad !== 'NOTSET' && autoPad !== 'VALID') continue;
    const own = autoPad === 'VALID' ? [0, 0, 0, 0] : (attrInts(conv, 'pads') ?? [0, 0, 0, 0]);
    const pads = [own[0]! + p[1]!, own[1]! + p[2]!, own[2]! + p[5]!, own[3]! + p[6]!];
    folded.set(conv, {
      ...conv,
      inputs: [pad.inputs[0]!, ...conv.inputs.slice(1)],
      attrs: { ...conv.attrs, auto_pad: { type: 'string', value: 'NOTSET' }, pads: { type: 'ints', value: pads } },
    });
    dropped.add(pad);
  }
  if (!folded.size) return nodes;
  return nodes.filter((n) => !dropped.has(n)).map((n) => folded.get(n) ?? n);
}

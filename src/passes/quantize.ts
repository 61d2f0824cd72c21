// Post-training quantization of a channels-last graph, as ONNX QDQ (the TFLite writer turns it
// into quantized tensors and integer ops):
//   float16  every float32 constant stored as float16 and cast back (TFLite: DEQUANTIZE);
//   dynamic  what TF's converter emits for Optimize.DEFAULT without a dataset: weights of 1024
//            elements or more int8, symmetric, narrow range [-127, 127]; conv / depthwise per
//            output channel and run by TFLite's hybrid kernels (float activations quantized on
//            the fly), dense per tensor (hybrid FULLY_CONNECTED with asymmetric_quantize_inputs),
//            transposed conv per channel behind a DEQUANTIZE (float compute, as TF: no hybrid
//            kernel), Gather tables (embeddings) per tensor behind a DEQUANTIZE, batched MatMul
//            constants (rank > 2) per tensor read by hybrid BATCH_MATMUL; the writer sets the
//            options. Each op meant to be hybrid gets nnport::HybridInputQuantize before its float
//            input (the TFLite reader's marker): nnport's runtime computes what the file does, and
//            the writer makes exactly the marked ops hybrid. `dynamic: 'weight-only'` puts no
//            marker, so the writer DEQUANTIZEs every int8 weight for float kernels (TF's
//            weight-only quantization); `minElements` moves the 1024;
//   int8     weights as in dynamic but dense ones per output row too (as TF's recent converters write them; the
//            option perChannelDense: false keeps them per tensor), biases int32 (scale_x·scale_w), activations int8 asymmetric
//            per tensor from calibration ranges (minmax, percentile, entropy, mse, search), following the
//            TFLite int8 spec: softmax / logistic output 1/256 with zero point -128, tanh 1/128
//            with 0, pooling / reshape / transpose / pad sharing their input's parameters.
//            `io` chooses float I/O (QUANTIZE/DEQUANTIZE at the edges) or int8/uint8 I/O.
import { QuantizationError, UnsupportedError } from '../ir/errors.js';
import { attrInt, attrString, implicitInputs, producersOf, readersOf, subgraphsOf, topologicalOrder, type Attr, type Graph, type Node, type ValueInfo } from '../ir/graph.js';
import { renameOuterRead } from '../ir/rewriter.js';
import { inferShapes, opKey } from '../ir/ops/index.js';
import { Tensor } from '../ir/tensor.js';
import { runGraph } from '../runtime/executor.js';
import { minMax, minMaxPerAxis } from '../wasm/calibrate.js';
import { castFloat } from '../wasm/half.js';
import { bodyValueKey, calibrate, HIST_BINS, type CalibrationMethod, type CalibrationSamples, type Stats } from './calibrate.js';
import { dequantizeGraph } from './dequantize.js';
import { channelRangeObserver, equalizationPlan, findEqualizationGroups } from './equalize.js';
import { splitChannels, splitClippedChannels, type ClipSplitResult } from './channel-split.js';
import { dequantizedWeights, searchActivationRanges, type ScaleSearchOptions } from './scale-search.js';
import { dropHybridInputs } from './hybrid-inputs.js';
import { BIAS_CORRECTION_SAMPLES, correctBiases } from './bias-correction.js';
import { decodeHalfWeights } from './float16-weights.js';
import { mapNodeSubgraphs, mapSubgraphs, someNodeDeep } from './layout-subgraphs.js';
import { lstmInt8 } from './quantize-recurrent.js';
import { HessianCollector, maxBlock, roundWeightsGptq, type WeightRounding } from './weight-rounding.js';
import { quantizeBias, quantizePerAxis, quantizePerTensor, scaleZeroPointFromMinMax, scalesZeroPointsFromMinMax, type RangeOptions } from '../wasm/quantize.js';
import { roundHalfAway } from '../wasm/scalar/quantize.js';

export type QuantizeMode = 'float16' | 'dynamic' | 'int8' | 'int16x8';
export type { CalibrationMethod, CalibrationSamples } from './calibrate.js';
export type { WeightRounding } from './weight-rounding.js';

export interface QuantizeOptions {
  mode: QuantizeMode;
  /** int8: the model's I/O (default float: QUANTIZE/DEQUANTIZE at the edges) */
  io?: 'float' | 'int8' | 'uint8';
  /**
   * int8: input samples, each feeds by input name or tensors in input order, in the layout of
   * the graph's inputs; a sample in the source's NCHW layout is recognised by its shape and
   * transposed (onNote says so once). A function is called with the graph's inputs first (to
   * shape samples for them, e.g. resize images).
   */
  calibration?: CalibrationSamples | ((inputs: readonly ValueInfo[]) => CalibrationSamples);
  /**
   * How many samples `calibration` gives, where it is not an array (an iterable, a generator
   * function): with weightRounding 'gptq', the Hessian rows per layer are spread over them
   * (default: assumed 64, the most used).
   */
  calibrationCount?: number;
  /** notes for the user (a transposed calibration layout) */
  onNote?: (note: string) => void;
  method?: CalibrationMethod;
  /** search method: how many calibration samples the search runs on, and its steps (src/passes/scale-search.ts) */
  search?: ScaleSearchOptions;
  /** percentile method: the percentile of |x| kept (default 99.99) */
  percentile?: number;
  /** int8: measure every quantized value's error on the calibration samples */
  report?: boolean;
  /**
   * int8 / int16x8: cross-layer equalization before quantizing (src/passes/equalize.ts: conv ->
   * conv channels rescaled so that each fills its tensor's int8 range; the float function is
   * unchanged). Default: on for int8 with minmax or mse calibration (mse: the equalized graph is
   * calibrated again on the same samples), off otherwise. A model that keeps run-time If / Loop:
   * the main graph and each body equalized, each on its own samples.
   */
  equalize?: boolean;
  /**
   * int8: split every channel of the linear conv -> [Add | MaxPool | zero Pad]* -> conv groups in
   * two offset copies after equalization (src/passes/channel-split.ts: the float function is
   * unchanged, each such tensor's int8 step halves and its copies round apart), and (clipSplit,
   * 2 by default here) the ReLU6 outputs that only group-1 convs read by range. Doubles the linear
   * groups' channels (the trained MobileNet-v2: file 1.64x, 17.97 -> 21.02 dB in the interpreter;
   * bench/RESULTS.md, acc). Default off.
   */
  channelSplit?: boolean;
  /**
   * int8: split the ReLU6 outputs that only group-1 convs read (MobileNet-v2's depthwise -> ReLU6
   * -> projection) by range into this many pieces (src/passes/channel-split.ts,
   * splitClippedChannels: a channel above the tensor's max / pieces gets copies that its consumer
   * adds back; the tensor's int8 step is 1/pieces). Default: 2 with channelSplit, else off (0 or 1).
   */
  clipSplit?: number;
  /**
   * int8 / int16x8: how conv / dense weights become integers on minmax's per-channel scales:
   * 'nearest' (default) or 'gptq' (src/passes/weight-rounding.ts: each weight rounded so that the
   * layer's output on the calibration samples changes least; its input Hessians are summed
   * during calibration).
   */
  weightRounding?: WeightRounding;
  /**
   * int8 / int16x8: empirical bias correction (src/passes/bias-correction.ts): each conv /
   * depthwise / dense bias is corrected by its output's mean shift measured against the float
   * graph on the calibration samples (one more pass, of the float graph with a quantized twin of
   * every such layer, over the first `biasCorrectionSamples` samples: about 10 float passes'
   * time per sample).
   */
  biasCorrection?: boolean;
  /** bias correction: how many of the calibration samples measure the shifts (default 32, BIAS_CORRECTION_SAMPLES) */
  biasCorrectionSamples?: number;
  /** called after each calibration sample */
  onProgress?: (done: number) => void;
  /** receives the per-layer error table when `report` is set */
  onReport?: (report: LayerError[]) => void;
  /**
   * dynamic, TFLite writer: 'hybrid' (default, TF's converter's Optimize.DEFAULT): conv /
   * depthwise / dense / batch-matmul kernels read the int8 weights and quantize their float input
   * to int8 on the fly; 'weight-only' (TF's weight-only quantization): every int8 weight is read
   * through a DEQUANTIZE by float kernels -- the same 4x smaller file, accuracy of the int8
   * weights alone, float speed.
   */
  dynamic?: 'hybrid' | 'weight-only';
  /** dynamic: weights with fewer elements stay float (default 1024, TF's minimum_elements_for_weights) */
  minElements?: number;
  /** int16x8, TFLite writer: ops without a 16x8 kernel stay float between DEQUANTIZE and QUANTIZE instead of being refused */
  floatFallback?: boolean;
  /**
   * int8 / int16x8: dense weights (Gemm / MatMul by a 2-D constant: FULLY_CONNECTED) per output
   * row (default, as TF's recent converters write them) or, false, one scale per layer (what TF's
   * converter wrote before and what a runtime without per-channel FULLY_CONNECTED needs)
   */
  perChannelDense?: boolean;
}

export interface LayerError {
  value: string;
  op: string;
  maxAbs: number;
  meanAbs: number;
  /** signal-to-noise ratio of the quantized value against the float one, dB (errors of every layer up to here) */
  snrDb: number;
  /**
   * SNR of this tensor's own int8 rounding and clipping (its float value quantized with its
   * parameters, dB): a low one marks the layer whose range breaks int8, where snrDb only declines
   */
  ownSnrDb: number;
  /** a value of a kept If / Loop body (`value` is then `<body> / <value>`): the body, as "loop '<node>' body", nested ones after their parent's */
  body?: string;
  /** a body value's: how many executions of its body were measured (every iteration of a loop, on every sample) */
  executions?: number;
  /** executions left out: the quantized graph ran the body a different number of times on that sample (a branch or trip count changed by the rounding) */
  skippedExecutions?: number;
}

export interface QuantizeResult {
  graph: Graph;
  /** int8 with report: per quantized value, float vs quantized on the calibration set */
  report?: LayerError[];
  samples?: number;
}


/** Output-channel axis of each weight input: conv weights by layout, dense weights by transB. */
function weightAxis(n: Node): number | undefined {
  switch (opKey(n)) {
    case 'nnport::Conv':
      return attrString(n, 'kernel_layout', 'HWIO') === 'OHWI' ? 0 : 3;
    case 'nnport::ConvTranspose':
      return attrString(n, 'kernel_layout', 'HWOI') === 'OHWI' ? 0 : 2;
    case 'Gemm':
      return attrInt(n, 'transB', 0) === 1 ? 0 : 1;
    case 'MatMul':
      return 1;
    default:
      return undefined;
  }
}

const int = (value: number): Attr => ({ type: 'int', value });

class Names {
  private readonly used = new Set<string>();
  /** reserved: names it must not give either (a body's: those of the graphs around it, whose values it may read) */
  constructor(g: Graph, reserved?: ReadonlySet<string>) {
    for (const k of reserved ?? []) this.used.add(k);
    for (const k of g.initializers.keys()) this.used.add(k);
    for (const v of g.inputs) this.used.add(v.name);
    for (const n of g.nodes) for (const o of n.outputs) this.used.add(o);
  }
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }
}

/** Symmetric int8 weights, per channel along `axis` (undefined: per tensor): (int8 tensor, scales). */
function quantizeWeights(w: Tensor, axis: number | undefined): { q: Tensor; scales: number[] } {
  const f = w.dtype === 'float32' ? w : new Tensor('float32', w.shape, w.toFloat32());
  if (axis === undefined) {
    const r = minMax(f);
    const p = scaleZeroPointFromMinMax(r.min, r.max, { dtype: 'int8', symmetric: true, narrowRange: true });
    return { q: quantizePerTensor(f, p.scale, 0, { dtype: 'int8', rounding: 'half-away', narrowRange: true } as never), scales: [p.scale] };
  }
  const { min, max } = minMaxPerAxis(f, axis);
  const { scales } = scalesZeroPointsFromMinMax(min, max, { dtype: 'int8', symmetric: true, narrowRange: true });
  const zps = new Array<number>(scales.length).fill(0);
  return { q: quantizePerAxis(f, axis, scales, zps, { dtype: 'int8', rounding: 'half-away', narrowRange: true } as never), scales: Array.from(scales) };
}

/**
 * Integers `q` of initializer `w` as a new DequantizeLinear (per `axis` when several scales); its
 * output's name. The zero point is int8 zeros (symmetric weights) unless given.
 */
function addDequantized(names: Names, inits: Map<string, Tensor>, nodes: Node[], w: string, q: Tensor, scales: number[], axis: number, zeroPoint?: Tensor): string {
  const qName = names.fresh(`${w}_quantized`);
  const sName = names.fresh(`${w}_scale`);
  const zName = names.fresh(`${w}_zero_point`);
  inits.set(qName, q);
  const shape = scales.length > 1 ? [scales.length] : [];
  inits.set(sName, Tensor.float32(shape, scales));
  inits.set(zName, zeroPoint ?? new Tensor('int8', shape, new Int8Array(scales.length)));
  const out = names.fresh(`${w}_dequantized`);
  nodes.push({ name: out, opType: 'DequantizeLinear', domain: '', inputs: [qName, sName, zName], outputs: [out], attrs: scales.length > 1 ? { axis: int(axis) } : {} });
  return out;
}

/**
 * Whether every weight is an integer multiple of max|w| / 127 (to float32 rounding): weights that were
 * int8 with one scale and were dequantized (a dynamic-range TFLite file's dense weights read back).
 */
function onTensorGrid(w: Tensor): boolean {
  const v = w.toFloat32();
  let max = 0;
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]!));
  if (!(max > 0) || v.length < 2) return false;
  const step = max / 127;
  for (let i = 0; i < v.length; i++) {
    const k = v[i]! / step;
    if (Math.abs(k - Math.round(k)) > 1e-4) return false;
  }
  return true;
}

/** Integers for a weight on the scales chosen (undefined: round to nearest). */
type RoundWeights = (weight: string, w: Tensor, scales: number[]) => Tensor | undefined;

/** Replace weight initializers of conv/dense nodes by int8 + DequantizeLinear (shared per initializer). */
function quantizeAllWeights(g: Graph, names: Names, nodes: Node[], inits: Map<string, Tensor>, minElements = 0, round?: RoundWeights, denseAxis = false): Map<string, number[]> {
  const done = new Map<string, { name: string; scales: number[] }>();
  const scalesOf = new Map<string, number[]>();
  for (const n of g.nodes) {
    const axis = weightAxis(n);
    const w = n.inputs[1];
    if (axis === undefined || !w) continue;
    const t = inits.get(w);
    if (!t || (t.dtype !== 'float32' && t.dtype !== 'float16')) continue;
    if (opKey(n) === 'MatMul' && t.rank !== 2) continue;
    // dynamic range, as TF's converter: weights under 1024 elements (minElements) stay float
    if (t.size < minElements) continue;
    // conv / depthwise / transposed-conv weights per output channel; dense weights per output row
    // with denseAxis (int8 / int16x8, as TF's recent converters write FULLY_CONNECTED), else per
    // tensor: the interpreter's hybrid FULLY_CONNECTED takes one weight scale (per-channel weights
    // give wrong outputs in tfjs-tflite's build: measured again, 1.1 of the output's scale off float)
    const dense = opKey(n) === 'Gemm' || opKey(n) === 'MatMul';
    // weights on one int8 grid already (a dynamic-range file's dense layer read back) keep it: per row they would be rounded again
    const perTensor = dense && (!denseAxis || onTensorGrid(t));
    // (shared per initializer and axis: a tied weight read as x·W and as x·Wᵀ gets a copy per row axis)
    const key = perTensor ? w : `${w}\0${axis}`;
    let hit = done.get(key);
    if (!hit) {
      const nearest = quantizeWeights(t, perTensor ? undefined : axis);
      const { scales } = nearest;
      const q = round?.(w, t, scales) ?? nearest.q;
      done.set(key, (hit = { name: addDequantized(names, inits, nodes, w, q, scales, axis), scales }));
    }
    n.inputs[1] = hit.name;
    scalesOf.set(hit.name, hit.scales);
  }
  return scalesOf;
}

/** The largest int32 bias written: half the int32 range, the other half left to the accumulation. */
const BIAS_LIMIT = 2 ** 30;

/**
 * A bias too large for int32 on scale_x · scale_w (a conv reading a near-silent input, range
 * ~1e-10, with a bias of 0.05: LR-ASPP's high branch at random init) would be clamped, and the
 * layer's output lost (0 dB). As TF's converter does, the weight scales of those channels grow
 * until the bias fits (the weights rounded on the coarser grid: their input is near-silent, so
 * the product loses little). Per-tensor weights take the largest factor. The weight's
 * DequantizeLinear is rewritten in place (it is read by this node alone); its scales, or
 * undefined when every bias fits.
 */
function widenForBias(weight: string, dq: Node[], inits: Map<string, Tensor>, bias: Float32Array, inputScale: number, scales: number[]): number[] | undefined {
  const need = Array.from(bias, (v, c) => Math.abs(v) / (inputScale * scales[scales.length === 1 ? 0 : c]!) / BIAS_LIMIT);
  if (!need.some((f) => f > 1)) return undefined;
  const node = dq.find((d) => d.outputs[0] === weight);
  const q = node && inits.get(node.inputs[0]!);
  if (!node || !q || q.dtype !== 'int8') return undefined;
  const factors = scales.length === 1 ? [Math.max(1, ...need)] : need.map((f) => Math.max(1, f));
  const axis = scales.length === 1 ? 0 : (attrInt(node, 'axis', 1) + q.rank) % q.rank;
  const inner = q.shape.slice(axis + 1).reduce((a, d) => a * d, 1);
  const channels = scales.length === 1 ? 1 : q.shape[axis]!;
  const src = q.data as Int8Array;
  const out = new Int8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const c = scales.length === 1 ? 0 : Math.floor(i / inner) % channels;
    // rounding the integers again, half away from zero as the weights were
    out[i] = roundHalfAway(src[i]! / factors[c]!);
  }
  const widened = scales.map((s, c) => Math.fround(s * factors[c]!));
  const qName = node.inputs[0]!;
  inits.set(qName, new Tensor('int8', q.shape, out));
  inits.set(node.inputs[1]!, Tensor.float32(scales.length > 1 ? [scales.length] : [], widened));
  return widened;
}

/** Elementwise ops TFLite runs in integers that take no float operand. */
const ELEMENTWISE_INTEGER = new Set(['Add', 'Sub', 'Mul', 'Max', 'Min', 'PRelu']);

/**
 * A constant's own per-tensor parameters. An all-zero constant (a BatchNorm shift of 0) would get
 * scale 1, which the 16-bit ADD's output multiplier cannot take (2·max input scale over the
 * output's must stay below 2^15: the interpreter aborts, pytorch-converted test_BatchNorm2d_eval
 * int16x8); any scale holds zeros exactly, so a fine one.
 */
function constantParams(t: Tensor, range: RangeOptions): { scale: number; zeroPoint: number } {
  const r = minMax(t);
  return r.min === 0 && r.max === 0 ? { scale: 2 ** -15, zeroPoint: 0 } : scaleZeroPointFromMinMax(r.min, r.max, range);
}

/** A float constant on int8 / int16 parameters, behind a DequantizeLinear: the name that reads it. */
function addQuantizedConstant(names: Names, inits: Map<string, Tensor>, dq: Node[], v: string, t: Tensor, p: { scale: number; zeroPoint: number }, range: RangeOptions): string {
  const q = quantizePerTensor(t, p.scale, p.zeroPoint, { ...range, rounding: 'half-away' } as never);
  const zero = range.dtype === 'int16' ? new Tensor('int16', [], Int16Array.of(p.zeroPoint)) : new Tensor('int8', [], Int8Array.of(p.zeroPoint));
  return addDequantized(names, inits, dq, v, q, [p.scale], 0, zero);
}

/**
 * Each float constant (not a fed graph input) that a node `paramsOf` answers for reads, as int8 /
 * int16 on the parameters it gives behind a DequantizeLinear: one per constant and parameters.
 */
function quantizeConstantInputs(
  g: Graph,
  nodes: Node[],
  names: Names,
  inits: Map<string, Tensor>,
  dq: Node[],
  range: RangeOptions,
  paramsOf: (n: Node) => ((t: Tensor) => { scale: number; zeroPoint: number }) | undefined,
  inputs: (i: number) => boolean = () => true,
): void {
  const fed = new Set(g.inputs.map((v) => v.name));
  const done = new Map<string, string>();
  for (const n of nodes) {
    const paramsFor = paramsOf(n);
    if (!paramsFor) continue;
    n.inputs = n.inputs.map((v, i) => {
      const t = v && !fed.has(v) && inputs(i) ? inits.get(v) : undefined;
      if (!t || t.dtype !== 'float32') return v;
      const p = paramsFor(t);
      const key = `${v}\0${p.scale}\0${p.zeroPoint}`;
      if (!done.has(key)) done.set(key, addQuantizedConstant(names, inits, dq, v, t, p, range));
      return done.get(key)!;
    });
  }
}

/**
 * A float constant that a conv / dense layer takes as its data (input 0; a graph of constants only, a test conv on
 * a constant image) on int8 / int16 parameters of its own range behind a DequantizeLinear, as an activation would be:
 * left float, the integer CONV_2D read a float input (a file the interpreter refuses).
 */
function quantizeConstantData(g: Graph, nodes: Node[], names: Names, inits: Map<string, Tensor>, dq: Node[], range: RangeOptions): void {
  quantizeConstantInputs(g, nodes, names, inits, dq, range, (n) => (weightAxis(n) !== undefined ? (t) => constantParams(t, range) : undefined), (i) => i === 0);
}

/**
 * A float constant read by an elementwise integer op (the Add of a bias after a MatMul over a
 * batch of matrices, which stays an ADD; a Mul by a constant) as int8 (int16 under int16x8) per
 * tensor on its own range behind a DequantizeLinear, as TF's converter quantizes it: TFLite's
 * integer ADD / SUB / MUL / MAXIMUM / MINIMUM / PRELU (its slope) refuse a float operand beside
 * integer data. (MAXIMUM / MINIMUM copy integers: their constants take the output's
 * parameters, tieConstantInputs.)
 */
function quantizeElementwiseConstants(g: Graph, nodes: Node[], names: Names, inits: Map<string, Tensor>, dq: Node[], range: RangeOptions): void {
  quantizeConstantInputs(g, nodes, names, inits, dq, range, (n) => (ELEMENTWISE_INTEGER.has(opKey(n)) && !TIED.has(opKey(n)) ? (t) => constantParams(t, range) : undefined));
}

/**
 * A MatMul's float constant operand that is no dense weight (rank 2 on the right: FULLY_CONNECTED,
 * quantizeAllWeights), e.g. the batch of matrices an Einsum by a constant becomes (MViT's relative
 * position tables): per tensor, symmetric, behind a DequantizeLinear -- int8 narrow range as TF's
 * converter writes weights, int16 under int16x8. TFLite's BATCH_MATMUL takes integer operands of
 * one type only (a float one beside int8 data: "Can't initialize model").
 */
function quantizeBatchedConstants(g: Graph, nodes: Node[], names: Names, inits: Map<string, Tensor>, dq: Node[], act: 'int8' | 'int16'): void {
  const range = { dtype: act, symmetric: true, narrowRange: true } as const;
  quantizeConstantInputs(g, nodes, names, inits, dq, range, (n) => (opKey(n) === 'MatMul' ? (t) => constantParams(t, range) : undefined));
}

/** float16 storage: each float32 constant becomes float16 + Cast to float32. */
function toFloat16(g: Graph): Graph {
  const names = new Names(g);
  const inits = new Map(g.initializers);
  const casts: Node[] = [];
  const renamed = new Map<string, string>();
  // a constant that is a graph output stays as it is (no op reads it through the Cast)
  const outputs = new Set(g.outputs.map((v) => v.name));
  for (const [name, t] of g.initializers) {
    if (t.dtype !== 'float32' || t.size < 2 || outputs.has(name)) continue;
    const half = names.fresh(`${name}_float16`);
    inits.delete(name);
    inits.set(half, castFloat(t, 'float16'));
    const out = names.fresh(`${name}_float32`);
    casts.push({ name: out, opType: 'Cast', domain: '', inputs: [half], outputs: [out], attrs: { to: int(1) } });
    renamed.set(name, out);
  }
  const nodes = g.nodes.map((n) => ({ ...n, inputs: n.inputs.map((i) => renamed.get(i) ?? i) }));
  return { ...g, nodes: [...casts, ...nodes], initializers: inits };
}

/** TF's converter leaves weights under 1024 elements float (its minimum_elements_for_weights) */
const DYNAMIC_MIN_ELEMENTS = 1024;

/**
 * Dynamic range beyond conv / dense weights, as TF's (MLIR) dynamic-range quantizer does: a
 * Gather's constant table (embeddings) and a MatMul's constant right operand of rank > 2
 * (BATCH_MATMUL; rank 2 is a FULLY_CONNECTED, done with the dense weights) become int8 per
 * tensor, symmetric, narrow range, from 1024 elements. The writer keeps the table's DEQUANTIZE
 * (TFLite's GATHER has no hybrid kernel: it gathers floats) and makes BATCH_MATMUL hybrid.
 */
function quantizeTablesAndBatchedWeights(nodes: Node[], names: Names, dq: Node[], inits: Map<string, Tensor>, minElements: number): void {
  const done = new Map<string, string>();
  for (const n of nodes) {
    const at = opKey(n) === 'Gather' ? 0 : opKey(n) === 'MatMul' ? 1 : -1;
    const w = at >= 0 ? n.inputs[at] : undefined;
    const t = w ? inits.get(w) : undefined;
    if (!w || !t || (t.dtype !== 'float32' && t.dtype !== 'float16') || t.size < minElements) continue;
    if (at === 1 && t.rank < 3) continue;
    let out = done.get(w);
    if (!out) {
      const { q, scales } = quantizeWeights(t, undefined);
      done.set(w, (out = addDequantized(names, inits, dq, w, q, scales, 0)));
    }
    n.inputs[at] = out;
  }
}

/**
 * The nnport::HybridInputQuantize marker TFLite's reader puts before a hybrid op's float input,
 * for an op quantized here whose writer output is a hybrid kernel: CONV_2D (symmetric inputs when
 * its channel scales are all equal, TFLite's per-tensor path; else asymmetric per image),
 * DEPTHWISE_CONV_2D (asymmetric per image), FULLY_CONNECTED (Gemm, or MatMul of a rank-2 weight:
 * asymmetric per row, the writer's asymmetric_quantize_inputs) and BATCH_MATMUL (asymmetric per
 * row). ConvTranspose has no hybrid kernel (its weights stay behind a DEQUANTIZE); dense weights
 * with several scales neither. Undefined: the op stays weight-only.
 */
function hybridMarkerAttrs(n: Node, w: Tensor, scales: number[]): { symmetric: boolean; axis: number } | undefined {
  switch (opKey(n)) {
    case 'nnport::Conv': {
      const ipg = attrString(n, 'kernel_layout', 'HWIO') === 'OHWI' ? w.shape[3] : w.shape[2];
      const depthwise = attrInt(n, 'group', 1) > 1 && ipg === 1;
      return { symmetric: !depthwise && scales.every((s) => s === scales[0]), axis: 1 };
    }
    // per row: axis -1 whatever the input's rank (the TFLite reader's convention for FULLY_CONNECTED and BATCH_MATMUL)
    case 'Gemm':
      return scales.length === 1 && attrInt(n, 'transA', 0) === 0 ? { symmetric: false, axis: -1 } : undefined;
    case 'MatMul':
      return scales.length === 1 ? { symmetric: false, axis: -1 } : undefined;
    default:
      return undefined;
  }
}

/**
 * Before each op whose weights became int8 and that TFLite runs as a hybrid kernel, the marker of
 * its on-the-fly input rounding (the same attributes as the TFLite reader's): nnport's runtime
 * then computes what the written file computes, and the writer makes exactly these ops hybrid.
 */
function markHybridInputs(nodes: Node[], dq: Node[], inits: Map<string, Tensor>, names: Names): Node[] {
  const int8 = new Map(dq.map((d) => [d.outputs[0]!, d]));
  const out: Node[] = [];
  for (const n of nodes) {
    const d = n.inputs[1] ? int8.get(n.inputs[1]) : undefined;
    const x = n.inputs[0];
    const w = d ? inits.get(d.inputs[0]!) : undefined;
    if (d && w) oneScaleConvWeights(n, d, w, inits, names);
    const attrs = d && w && x && !inits.has(x) ? hybridMarkerAttrs(n, w, inits.get(d.inputs[1]!)!.toNumbers()) : undefined;
    if (!attrs) {
      out.push(n);
      continue;
    }
    const y = names.fresh(`${x}_hybrid_int8`);
    out.push({ name: y, opType: 'HybridInputQuantize', domain: 'nnport', inputs: [x!], outputs: [y], attrs: { symmetric: int(attrs.symmetric ? 1 : 0), axis: int(attrs.axis) } });
    out.push({ ...n, inputs: [y, ...n.inputs.slice(1)] });
  }
  return out;
}

/**
 * A CONV_2D's per-channel weights whose channels all got the same scale are written with that one
 * scale: the interpreter's hybrid CONV_2D gives zeros for per-channel parameters of equal scales
 * (measured in tfjs-tflite), its per-tensor path (symmetric inputs) is TFLite's for one scale.
 * Depthwise weights stay per channel (TFLite's hybrid depthwise kernel is per channel only).
 */
function oneScaleConvWeights(n: Node, d: Node, w: Tensor, inits: Map<string, Tensor>, names: Names): void {
  if (opKey(n) !== 'nnport::Conv' || d.attrs.axis === undefined) return;
  const ipg = attrString(n, 'kernel_layout', 'HWIO') === 'OHWI' ? w.shape[3] : w.shape[2];
  if (attrInt(n, 'group', 1) > 1 && ipg === 1) return;
  const scales = inits.get(d.inputs[1]!)!.toNumbers();
  if (scales.length < 2 || !scales.every((s) => s === scales[0])) return;
  const s = names.fresh(`${d.inputs[1]}_one`);
  const z = names.fresh(`${d.inputs[2]}_one`);
  inits.set(s, Tensor.float32([], [scales[0]!]));
  inits.set(z, new Tensor('int8', [], new Int8Array(1)));
  d.inputs = [d.inputs[0]!, s, z];
  d.attrs = {};
}

function toDynamic(g: Graph, minElements = DYNAMIC_MIN_ELEMENTS, kernels: 'hybrid' | 'weight-only' = 'hybrid'): Graph {
  // weight-only: no op rounds its input, not even those of a hybrid model read from TFLite
  if (kernels === 'weight-only') g = dropHybridInputs(g).graph;
  const names = new Names(g);
  const inits = new Map(g.initializers);
  let nodes = g.nodes.map((n) => ({ ...n, inputs: [...n.inputs] }));
  const dq: Node[] = [];
  quantizeAllWeights({ ...g, nodes }, names, dq, inits, minElements);
  quantizeTablesAndBatchedWeights(nodes, names, dq, inits, minElements);
  if (kernels === 'hybrid') nodes = markHybridInputs(nodes, dq, inits, names);
  // weights no longer read as float are dropped (those a kept If / Loop body reads stay: it has its own copy only once mapSubgraphs made it)
  const read = new Set(nodes.flatMap((n) => n.inputs.concat(implicitInputs(n))).concat(dq.flatMap((n) => n.inputs)));
  for (const k of [...inits.keys()]) if (!read.has(k) && !g.outputs.some((o) => o.name === k)) inits.delete(k);
  return { ...g, nodes: [...dq, ...nodes], initializers: inits, opsets: kernels === 'hybrid' && nodes.some((n) => n.domain === 'nnport') ? { ...g.opsets, nnport: g.opsets.nnport ?? 1 } : g.opsets };
}

/**
 * mse: the range whose rounding and clipping error, summed over the calibration histogram (each
 * bin's count at its centre, quantized with the range's own scale and zero point), is least; each
 * end of the observed range is shrunk by a factor from 1 down to 0.2 (0 stays in the range).
 */
function mseRange(s: Stats, opts: RangeOptions): [number, number] {
  const h = s.hist!;
  const lo0 = s.histMin!;
  const width = (s.histMax! - lo0) / HIST_BINS;
  if (!(width > 0)) return [s.min, s.max];
  const used: number[] = [];
  for (let i = 0; i < HIST_BINS; i++) if (h[i]) used.push(i);
  const centres = used.map((i) => lo0 + (i + 0.5) * width);
  const counts = used.map((i) => h[i]!);
  const [qmin, qmax] = opts.dtype === 'int16' ? [-32767, 32767] : [-128, 127];
  const factors = Array.from({ length: 33 }, (_, k) => 1 - k * 0.025);
  let best: [number, number] = [s.min, s.max];
  let bestErr = Infinity;
  for (const a of s.min < 0 ? factors : [1]) {
    for (const b of s.max > 0 ? factors : [1]) {
      const lo = s.min * a;
      const hi = s.max * b;
      const { scale, zeroPoint } = scaleZeroPointFromMinMax(lo, hi, opts);
      let err = 0;
      for (let k = 0; k < centres.length; k++) {
        const c = centres[k]!;
        const d = c - (Math.min(qmax, Math.max(qmin, Math.round(c / scale) + zeroPoint)) - zeroPoint) * scale;
        err += counts[k]! * d * d;
      }
      if (err < bestErr) (bestErr = err), (best = [lo, hi]);
    }
  }
  return best;
}

/** The clipping threshold |x| <= t chosen from a histogram. */
function clipThreshold(s: Stats, method: CalibrationMethod, percentile: number): number {
  const h = s.hist!;
  const width = s.histMax! / HIST_BINS;
  const total = h.reduce((a, b) => a + b, 0);
  if (!total) return s.histMax!;
  if (method === 'percentile') {
    let acc = 0;
    for (let i = 0; i < HIST_BINS; i++) {
      acc += h[i]!;
      if (acc >= (total * percentile) / 100) return (i + 1) * width;
    }
    return s.histMax!;
  }
  // entropy: the threshold whose 128-level quantized distribution is closest (KL) to the clipped one
  let best = HIST_BINS;
  let bestKl = Infinity;
  for (let i = 128; i <= HIST_BINS; i += 16) {
    const p = Array.from(h.subarray(0, i), Number);
    for (let j = i; j < HIST_BINS; j++) p[i - 1]! += h[j]!;
    const q = new Array<number>(i).fill(0);
    const per = i / 128;
    for (let b = 0; b < 128; b++) {
      const lo = Math.floor(b * per);
      const hi = Math.floor((b + 1) * per);
      let sum = 0;
      let nz = 0;
      for (let j = lo; j < hi; j++) if (p[j]! > 0) (sum += p[j]!), nz++;
      for (let j = lo; j < hi; j++) if (p[j]! > 0) q[j] = sum / nz;
    }
    let kl = 0;
    for (let j = 0; j < i; j++) if (p[j]! > 0) kl += (p[j]! / total) * Math.log(p[j]! / (q[j]! || 1e-12));
    if (kl < bestKl) (bestKl = kl), (best = i);
  }
  return best * width;
}

/** Ops whose int8 output must carry their input's scale and zero point. */
const SHARED = new Set(['Resize', 'nnport::Resize', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'nnport::MaxPool', 'nnport::AveragePool', 'MaxPool', 'Pad', 'Identity', 'Dropout', 'Slice', 'Gather', 'Split', 'nnport::DepthToSpace', 'nnport::SpaceToDepth', 'ReduceMax', 'ReduceMin', 'GlobalMaxPool', 'nnport::GlobalMaxPool', 'Tile', 'Expand', 'GatherND']);
const FIXED: Record<string, { scale: number; zeroPoint: number }> = { Softmax: { scale: 1 / 256, zeroPoint: -128 }, Sigmoid: { scale: 1 / 256, zeroPoint: -128 }, Tanh: { scale: 1 / 128, zeroPoint: 0 }, LogSoftmax: { scale: 16 / 256, zeroPoint: 127 } };
const ACTIVATION = new Set(['Relu', 'Clip']);
const FUSES_ACTIVATION = new Set(['Add', 'Sub', 'Mul', 'nnport::AveragePool', 'nnport::MaxPool']);

/** fixed: the spec's parameters of an op (16-bit: 1/32768 instead), or (`table`) a Gather's constant table's own range */
type ParamPlan = { kind: 'range' } | { kind: 'shared'; from: string } | { kind: 'fixed'; scale: number; zeroPoint: number; table?: string };

/**
 * Which values get int8 parameters and where they come from, in topological order: float graph
 * inputs and every float node output, except one whose only reader is a Relu/Clip TFLite fuses
 * into its producer (no tensor between them); reshapes / pooling / pads share their input's
 * parameters, softmax / logistic / tanh have the spec's fixed ones, the rest need a calibrated
 * range. A Gather of a constant float table (an embedding) takes the table's whole range, as TF's
 * converter quantizes it: TFLite's int8 GATHER reads an int8 table on its output's parameters, and
 * an id the calibration samples never held still finds its row. `isFloat` says which values are
 * float32 (before calibration: assume every node output); `range`: the activations' integer range.
 */
function planParams(g: Graph, isFloat: (v: string) => boolean, range: RangeOptions = { dtype: 'int8' }): Map<string, ParamPlan> {
  const consumers = readersOf(g.nodes);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const plan = new Map<string, ParamPlan>();
  for (const v of g.inputs) if (v.dtype === 'float32' && !g.initializers.has(v.name)) plan.set(v.name, { kind: 'range' });
  for (const n of topologicalOrder(g)) {
    for (const o of n.outputs) {
      if (!o || !isFloat(o)) continue;
      const cs = consumers.get(o) ?? [];
      // (the TFLite writer fuses no activation into a TRANSPOSE_CONV: its output needs parameters of its own, or stays
      // a float tensor between two int8 ops, a file the interpreter cannot initialize)
      if (!outputs.has(o) && cs.length === 1 && ACTIVATION.has(cs[0]!.opType) && !cs[0]!.domain && ((weightAxis(n) !== undefined && opKey(n) !== 'nnport::ConvTranspose') || FUSES_ACTIVATION.has(opKey(n)))) continue;
      const key = opKey(n);
      // a small constant added for a float-only root (LayerNorm's variance + epsilon before its Sqrt)
      // stays float with the root: on the variance's int8 grid epsilon rounds away, and a row of
      // near-zero variance (ViT's class token) became Sqrt(0), a division by zero
      if (!outputs.has(o) && key === 'Add' && cs.length > 0 && cs.every((c) => opKey(c) === 'Sqrt') && n.inputs.some((i) => g.initializers.has(i))) continue;
      const src = n.inputs[0];
      // (a slice / reshape of a constant by run-time bounds, in a loop body by the iteration: its constant int8 on its whole range too)
      const table = (key === 'Gather' || SHARED.has(key)) && src ? g.initializers.get(src) : undefined;
      if (table?.dtype === 'float32' && table.size > 0) plan.set(o, { kind: 'fixed', ...constantParams(table, range), table: src });
      else if (SHARED.has(key) && src && plan.has(src)) plan.set(o, { kind: 'shared', from: src });
      else if (FIXED[key]) plan.set(o, { kind: 'fixed', ...FIXED[key]! });
      else plan.set(o, { kind: 'range' });
    }
  }
  return plan;
}

/** Ops whose int8 kernel reads its inputs' integers on the output's grid (no rescaling). */
const TIED = new Set(['Concat', 'Max', 'Min']);

/**
 * TFLite's int8 CONCATENATION does not rescale (nor do MAXIMUM / MINIMUM: they compare the
 * integers and copy one, measured in the interpreter: test_max_* were 68 steps off): every input must have the output's scale and zero
 * point (the interpreter refuses the file otherwise). An input with a calibrated range of its own
 * takes the output's parameters (the output's range covers every input's), and what shares an
 * input's parameters (a pool, a reshape after it) follows. An input whose parameters are fixed by
 * something else (a softmax, an integer LSTM's state, another Concat) and differ is requantized
 * to the output's, as TF's converter does (an int8 -> int8 QUANTIZE before the CONCATENATION):
 * those inputs are returned, for the QDQ graph to get a QuantizeLinear / DequantizeLinear pair
 * with the output's parameters in front of the Concat.
 */
function tieConcatInputs(nodes: Node[], plan: ReadonlyMap<string, ParamPlan>, params: Map<string, { scale: number; zeroPoint: number }>, fixed: ReadonlyMap<string, unknown> | undefined): ConcatRequant[] {
  const tied = new Map<string, string>();
  const requants: ConcatRequant[] = [];
  const same = (a: { scale: number; zeroPoint: number }, b: { scale: number; zeroPoint: number }): boolean => a.scale === b.scale && a.zeroPoint === b.zeroPoint;
  for (const n of nodes) {
    if (!TIED.has(n.opType) || (n.domain && n.domain !== 'ai.onnx')) continue;
    const out = params.get(n.outputs[0]!);
    if (!out) continue;
    n.inputs.forEach((v, index) => {
      const p = v ? params.get(v) : undefined;
      if (!v || !p) return;
      const free = plan.get(v)?.kind === 'range' && !fixed?.has(v) && (tied.get(v) ?? n.outputs[0]) === n.outputs[0];
      // tied even when its parameters are the output's already (its range set the output's): a later
      // Concat reading it too (DenseNet's blocks) must requantize, not retake it
      if (free) tied.set(v, n.outputs[0]!);
      else if (!same(p, out)) requants.push({ concat: n, index, output: n.outputs[0]! });
    });
  }
  if (!tied.size) return requants;
  const root = (v: string): string => {
    let t = v;
    while (tied.has(t)) t = tied.get(t)!;
    return t;
  };
  for (const [v, p] of plan) {
    if (tied.has(v)) params.set(v, params.get(root(v))!);
    else if (p.kind === 'shared' && !fixed?.has(v)) params.set(v, params.get(p.from)!);
  }
  return requants;
}

/**
 * A float constant read by a Concat / Max / Min (ViT's class token before the patch tokens; a
 * clamp by a constant) on the output's parameters, behind a DequantizeLinear: those int8 kernels
 * copy integers, so a constant left float made a file the interpreter refuses (CONCATENATION's
 * inputs of two types), and one on its own range would be read on the output's grid.
 */
function tieConstantInputs(g: Graph, nodes: Node[], params: ReadonlyMap<string, { scale: number; zeroPoint: number }>, names: Names, inits: Map<string, Tensor>, dq: Node[], range: RangeOptions): void {
  quantizeConstantInputs(g, nodes, names, inits, dq, range, (n) => {
    const out = TIED.has(n.opType) && (!n.domain || n.domain === 'ai.onnx') ? params.get(n.outputs[0]!) : undefined;
    return out && (() => out);
  });
}

/** A Concat input requantized to the parameters of the Concat's output (named before the QDQ renames). */
interface ConcatRequant {
  concat: Node;
  index: number;
  output: string;
}

/** The number of calibration samples when it is known before they are read (an array). */
const sampleCount = (c: QuantizeOptions['calibration']): number | undefined => (Array.isArray(c) ? c.length : undefined);

/**
 * A model that is quantized already (a dynamic-range TFLite file read back: int8 weights behind
 * DequantizeLinear, nnport::HybridInputQuantize before its hybrid ops; a QDQ model) back to float
 * for full integer quantization: the hybrid ops' on-the-fly input rounding gives way to the
 * calibrated int8 activations, the weights are dequantized (and quantized again: per-channel
 * symmetric weights whose channels reach ±127, as TF writes them, get their integers back).
 */
function floatForInt8(g: Graph, onNote?: (note: string) => void): Graph {
  const hybrid = dropHybridInputs(g);
  if (hybrid.dropped) onNote?.(`${hybrid.dropped} hybrid op input rounding${hybrid.dropped > 1 ? 's' : ''} (TFLite's on-the-fly int8 rounding of the float activations of a dynamic-range model) dropped: full integer quantization gives those activations calibrated int8 parameters`);
  g = hybrid.graph;
  if (!g.nodes.some((n) => (n.opType === 'DequantizeLinear' || n.opType === 'QuantizeLinear') && (!n.domain || n.domain === 'ai.onnx'))) return g;
  const r = dequantizeGraph(g);
  onNote?.('the model is quantized already: its quantized weights are dequantized and quantized again');
  for (const note of r.notes) onNote?.(note);
  return r.graph;
}

type Calibration = Awaited<ReturnType<typeof calibrate>>;

/** What toInt8WithBodies gives toInt8 for a graph with kept control flow or a body of one. */
interface Int8Parts {
  /** the ranges calibrated already (none of the passes that calibrate again) */
  pre?: Calibration;
  /** values left float */
  keepFloat?: ReadonlySet<string>;
  /** names not to give (those of the graphs around a body) */
  reserved?: ReadonlySet<string>;
  /** the parameters of values whose range would be calibrated, given (a body's boundary: those of the graph around it) */
  fixed?: ReadonlyMap<string, { scale: number; zeroPoint: number }>;
}

/** toInt8's result: the parameters given to each value too (the report of a graph with bodies measures them itself). */
type Int8Result = QuantizeResult & { params: ReadonlyMap<string, QParams>; float: Graph };

async function toInt8(g: Graph, options: QuantizeOptions, { pre, keepFloat, reserved, fixed }: Int8Parts = {}): Promise<Int8Result> {
  if (!pre) g = floatForInt8(g, options.onNote);
  const method = options.method ?? 'minmax';
  const needed = new Set([...planParams(g, () => true)].filter(([, p]) => p.kind === 'range').map(([v]) => v));
  // LSTMs become TFLite's integer LSTM: their inputs observed, their h / c ranges measured (quantize-recurrent.ts)
  const lstm = options.mode === 'int8' ? lstmInt8(g) : undefined;
  if (lstm && pre) throw new UnsupportedError('integer LSTM in a model with kept run-time control flow', 'its ranges are measured during calibration of the graph alone; use --quantize dynamic');
  for (const v of lstm?.needed ?? []) needed.add(v);
  // search: mse's ranges, then each one searched on the simulated int8 graph (scale-search.ts)
  const search = method === 'search';
  // measured in the interpreter (trained MobileNet-v2, 24 photos): search 20.3 dB, mse + bias
  // correction 19.9 dB, search + bias correction 15.9 dB (bench/RESULTS.md, qscale); refused until understood
  if (search && options.biasCorrection) throw new QuantizationError("calibration method 'search' with bias correction gives a worse int8 model than either alone (measured); use one of them");
  // 16-bit activations round ~256x finer: the search then only trades clipping it cannot see on its few samples (trained MobileNet-v2 int16x8: mse 39.0 dB, search 30.9 dB)
  if (search && options.mode === 'int16x8') throw new QuantizationError("calibration method 'search' with int16x8: 16-bit activations leave the search nothing to gain but clipping its few samples do not show (measured 8 dB worse than mse); use --method mse or minmax");
  const base: CalibrationMethod = search ? (options.search?.from ?? 'mse') : method;
  const equalization = (options.equalize ?? (options.mode === 'int8' && (base === 'minmax' || base === 'mse'))) ? equalizationPlan(g, 'minmax', needed) : undefined;
  // equalization rescales the calibrated min/max of the values it rescales; a histogram does not
  // follow a per-channel rescaling, so the other methods calibrate the equalized graph again on
  // the same samples (kept from the first pass)
  // (channel splitting moves min/max the same way: the split graph is calibrated again too)
  const clipPieces = options.clipSplit ?? (options.channelSplit ? 2 : 0);
  if (!(Number.isInteger(clipPieces) && clipPieces >= 0)) throw new QuantizationError(`clipSplit must be a whole number of pieces, not ${clipPieces}`);
  const splitting = !!options.channelSplit || clipPieces > 1;
  if (splitting && options.mode !== 'int8') throw new QuantizationError(`channel splitting applies to int8, not ${options.mode}`);
  if (splitting && options.weightRounding === 'gptq') throw new QuantizationError('channel splitting with GPTQ weight rounding: the Hessians are summed on the graph before the split (not built)');
  const again = (equalization !== undefined || splitting) && base !== 'minmax';
  // the samples are kept (report: true) when something reads them again
  const rounding = options.weightRounding ?? 'nearest';
  if (rounding !== 'nearest' && rounding !== 'gptq') throw new UnsupportedError(`weight rounding '${String(rounding)}'`, 'use nearest or gptq');
  const keep = again || search || !!options.biasCorrection;
  // GPTQ's input Hessians are summed during the calibration passes (of the graph before
  // equalization: they follow its per-channel scales below)
  const hessians = rounding === 'gptq' ? new HessianCollector(g, { samples: sampleCount(options.calibration) ?? options.calibrationCount }) : undefined;
  // the range split of ReLU6 outputs needs their per-channel maxima: equalization's, or observed here
  const channelRanges = clipPieces > 1 && !equalization ? channelRangeObserver(findEqualizationGroups(g), needed) : undefined;
  const observers = [equalization?.observe, hessians?.observe, channelRanges?.observe, lstm?.observe].filter((f) => f !== undefined);
  const alsoObserve = observers.length > 1 ? (name: string, t: Tensor) => observers.forEach((f) => f(name, t)) : observers[0];
  let cal: Calibration;
  if (pre) cal = pre;
  else {
    try {
      cal = await calibrate(g, needed, options.calibration, again ? 'minmax' : base, options.onProgress, keep ? { ...options, report: true } : options, alsoObserve, hessians?.values);
    } catch (e) {
      hessians?.dispose();
      throw e;
    }
  }
  const kept = cal.inputs;
  let equalized: ReadonlyMap<string, Float32Array> | undefined;
  let clipSplit: ClipSplitResult | undefined;
  if (equalization) g = equalization.apply(cal.stats, (s) => (equalized = s));
  if (options.channelSplit) {
    const split = splitChannels(g, cal.stats);
    g = split.graph;
    const doubled = split.split.reduce((a, s) => a + s.channels, 0);
    options.onNote?.(`channel split: ${split.split.length} group${split.split.length === 1 ? '' : 's'} of ${doubled} channels doubled; ${split.skipped.length} left (a Relu / Clip in them, or a depthwise conv reading or writing them)`);
  }
  if (clipPieces > 1) {
    const ranges = equalization?.ranges ?? channelRanges!.ranges;
    const channelMax = (v: string): ArrayLike<number> | undefined => {
      const r = ranges.get(v);
      const s = equalized?.get(v);
      return r && s ? r.max.map((x, c) => x * s[c]!) : r?.max;
    };
    clipSplit = splitClippedChannels(g, cal.stats, channelMax, { pieces: clipPieces });
    g = clipSplit.graph;
    const added = clipSplit.split.reduce((a, s) => a + s.added, 0);
    options.onNote?.(`clip split: ${clipSplit.split.length} ReLU6 output${clipSplit.split.length === 1 ? '' : 's'} in ${clipPieces} ranges, ${added} channels added`);
  }
  // Hessians of the graph as quantized (equalized)
  const layers = hessians?.finish(equalized);
  if (again) cal = await calibrate(g, needed, kept, base, undefined, options);
  const { stats, floats, count } = cal;
  const samples = options.report ? kept : [];
  let round: RoundWeights | undefined;
  if (layers) {
    round = (weight, w, scales) => {
      const layer = layers.get(weight);
      // fewer rows than a Hessian block has inputs (a classifier after global pooling: one row
      // per sample) would fit the rounding to the samples: nearest there
      return layer && layer.rows >= maxBlock(layer) ? roundWeightsGptq(layer, w, scales) : undefined;
    };
  }
  const names = new Names(g, reserved);
  const inits = new Map(g.initializers);
  const nodes = g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] }));
  const weightDq: Node[] = [];
  const weightScales = quantizeAllWeights({ ...g, nodes }, names, weightDq, inits, 0, round, options.perChannelDense ?? true);

  // int16x8: activations int16 symmetric (zero point 0, ±32767), weights int8 as above
  const act: 'int8' | 'int16' = options.mode === 'int16x8' ? 'int16' : 'int8';
  const actRange = act === 'int16' ? ({ dtype: 'int16', symmetric: true, narrowRange: true } as const) : ({ dtype: 'int8' } as const);
  if (act === 'int16' && (options.io ?? 'float') !== 'float') throw new QuantizationError(`int16x8 keeps float inputs and outputs (io 'float'), not '${options.io}'`);
  quantizeElementwiseConstants(g, nodes, names, inits, weightDq, actRange);
  quantizeConstantData(g, nodes, names, inits, weightDq, actRange);
  quantizeBatchedConstants(g, nodes, names, inits, weightDq, act);
  const params = new Map<string, { scale: number; zeroPoint: number }>();
  const boundsOf = (v: string): [number, number] => {
    const s = stats.get(v);
    if (!s) throw new QuantizationError(`no calibration range for '${v}' (never computed on the samples)`);
    // an attention mask filled with -inf (masked_fill, a key-padding mask) has no integer range
    if (s.min === -Infinity || s.max === Infinity) {
      const by = g.nodes.find((n) => n.outputs.includes(v));
      throw new UnsupportedError(`${options.mode} activations of value '${v}'${by ? ` (${by.opType} '${by.name}')` : ''}`, `the calibration samples give it ${s.min === -Infinity ? '-Infinity' : 'Infinity'} (an attention mask filled with -inf?), which no integer range holds; --quantize dynamic keeps activations float (int8 weights), as transformers are usually deployed`);
    }
    if (base === 'minmax' || !s.hist) return [s.min, s.max];
    if (base === 'mse') return mseRange(s, actRange);
    const t = clipThreshold(s, base, options.percentile ?? 99.99);
    return [Math.max(s.min, -t), Math.min(s.max, t)];
  };
  const rangeOf = (v: string) => scaleZeroPointFromMinMax(...boundsOf(v), actRange);
  const floatInputs = g.inputs.filter((v) => v.dtype === 'float32' && !inits.has(v.name));
  const plan = planParams(g, (v) => floats.has(v), actRange);
  for (const v of keepFloat ?? []) plan.delete(v);
  // empirical bias correction (bias-correction.ts): the float biases, measured with the calibration
  // method's parameters, before the search (which then sees them) and the int32 biases
  if (options.biasCorrection) {
    const first = new Map<string, { scale: number; zeroPoint: number }>();
    for (const [v, p] of plan) first.set(v, p.kind === 'range' ? (fixed?.get(v) ?? rangeOf(v)) : p.kind === 'shared' ? first.get(p.from)! : act === 'int16' && !p.table ? { scale: 1 / 32768, zeroPoint: 0 } : { scale: p.scale, zeroPoint: p.zeroPoint });
    await correctBiases(g, nodes, inits, weightDq, first, act, kept.slice(0, options.biasCorrectionSamples ?? BIAS_CORRECTION_SAMPLES));
  }
  // (a body's boundary values keep the parameters given: the search works around them)
  const searchPlan = fixed?.size ? new Map([...plan].map(([v, p]) => [v, p.kind === 'range' && fixed.has(v) ? { kind: 'fixed' as const, ...fixed.get(v)! } : p])) : plan;
  const searched = search ? await searchRanges(g, searchPlan, boundsOf, stats, nodes, weightDq, inits, kept, actRange, options.search) : undefined;
  const lstmParams = lstm?.outputParams();
  for (const [v, p] of plan) {
    params.set(v, lstmParams?.get(v) ?? (p.kind === 'range' && fixed?.has(v) ? fixed.get(v)! : undefined) ?? (p.kind === 'range' ? (searched?.has(v) ? scaleZeroPointFromMinMax(...searched.get(v)!, actRange) : rangeOf(v)) : p.kind === 'shared' ? params.get(p.from)! : act === 'int16' && !p.table ? { scale: 1 / 32768, zeroPoint: 0 } : { scale: p.scale, zeroPoint: p.zeroPoint }));
  }
  // (int16 too: the 16x8 CONCATENATION / MAXIMUM / MINIMUM copy integers as the 8-bit ones do; measured, test_concat_* were 15787 steps off)
  const concatRequants = tieConcatInputs(nodes, plan, params, lstmParams);
  tieConstantInputs(g, nodes, params, names, inits, weightDq, actRange);
  // a Gather's constant table on its output's parameters (its own range, planParams)
  const tables = new Map<string, string>();
  for (const n of nodes) {
    const p = plan.get(n.outputs[0] ?? '');
    if (p?.kind !== 'fixed' || !p.table || n.inputs[0] !== p.table) continue;
    const key = `${p.table}\0${params.get(n.outputs[0]!)!.scale}`;
    if (!tables.has(key)) tables.set(key, addQuantizedConstant(names, inits, weightDq, p.table, inits.get(p.table)!, params.get(n.outputs[0]!)!, actRange));
    n.inputs[0] = tables.get(key)!;
  }

  // clip split: the Clips lowered to their int8 range's top get their bound back (TFLite fuses
  // ReLU6, not a Clip to T; the int8 range [0, T] clips there anyway)
  for (const c of clipSplit?.clips ?? []) {
    const n = nodes.find((k) => k.name === c.node)!;
    if (c.bound) n.inputs[2] = c.bound;
    else n.attrs = { ...n.attrs, max: { type: 'float', value: c.attr! } };
  }

  // biases: int32 on scale_x · scale_w[c]
  const readers = new Map<string, number>();
  for (const n of nodes) if (n.inputs[1]) readers.set(n.inputs[1], (readers.get(n.inputs[1]) ?? 0) + 1);
  for (const n of nodes) {
    let wScales = n.inputs[1] ? weightScales.get(n.inputs[1]) : undefined;
    const b = n.inputs[2];
    if (!wScales || !b) continue;
    const bt = inits.get(b);
    const x = params.get(n.inputs[0]!);
    if (!bt || !x) continue;
    if (readers.get(n.inputs[1]!) === 1) wScales = widenForBias(n.inputs[1]!, weightDq, inits, bt.toFloat32(), x.scale, wScales) ?? wScales;
    // (per-tensor weights, a per-tensor bias: quantizeBias)
    const { q, scales } = quantizeBias(bt.reshape([bt.size]), x.scale, wScales, 'half-away');
    const qName = names.fresh(`${b}_quantized`);
    const sName = names.fresh(`${b}_scale`);
    const zName = names.fresh(`${b}_zero_point`);
    inits.set(qName, q);
    // one scale: a scalar (a 1-D scale is per-axis in ONNX, axis 1 by default: a one-unit dense layer's bias failed to run)
    const shape = scales.length > 1 ? [scales.length] : [];
    inits.set(sName, Tensor.float32(shape, scales));
    inits.set(zName, new Tensor('int32', shape, new Int32Array(scales.length)));
    const out = names.fresh(`${b}_dequantized`);
    weightDq.push({ name: out, opType: 'DequantizeLinear', domain: '', inputs: [qName, sName, zName], outputs: [out], attrs: scales.length > 1 ? { axis: int(0) } : {} });
    n.inputs[2] = out;
  }

  // Q -> DQ after every quantized value; graph inputs and outputs keep their names
  const io = options.io ?? 'float';
  const qdq: Node[] = [];
  const inputsOut: ValueInfo[] = g.inputs.map((v) => ({ ...v }));
  const outputsOut: ValueInfo[] = g.outputs.map((v) => ({ ...v }));
  const producerRename = new Map<string, string>();
  const consumerRename = new Map<string, string>();
  const node = (opType: string, inputs: string[], out: string): void => void qdq.push({ name: out, opType, domain: '', inputs, outputs: [out], attrs: {} });
  const paramInits = (v: string, p: { scale: number; zeroPoint: number }, dtype: 'int8' | 'uint8' | 'int16'): [string, string] => {
    const sName = names.fresh(`${v}_${dtype}_scale`);
    const zName = names.fresh(`${v}_${dtype}_zero_point`);
    inits.set(sName, Tensor.float32([], [p.scale]));
    inits.set(zName, dtype === 'int8' ? new Tensor('int8', [], Int8Array.of(p.zeroPoint)) : dtype === 'int16' ? new Tensor('int16', [], Int16Array.of(p.zeroPoint)) : new Tensor('uint8', [], Uint8Array.of(p.zeroPoint + 128)));
    return [sName, zName];
  };
  for (const [v, p] of params) {
    const [s8, z8] = paramInits(v, p, act);
    const inputIndex = floatInputs.some((i) => i.name === v) ? inputsOut.findIndex((i) => i.name === v) : -1;
    if (inputIndex >= 0) {
      const dq = names.fresh(`${v}_dequantized`);
      consumerRename.set(v, dq);
      if (io === 'int8') {
        inputsOut[inputIndex] = { ...inputsOut[inputIndex]!, dtype: 'int8' };
        node('DequantizeLinear', [v, s8, z8], dq);
        continue;
      }
      let src = v;
      if (io === 'uint8') {
        inputsOut[inputIndex] = { ...inputsOut[inputIndex]!, dtype: 'uint8' };
        const [su, zu] = paramInits(v, p, 'uint8');
        src = names.fresh(`${v}_from_uint8`);
        node('DequantizeLinear', [v, su, zu], src);
      }
      const q = names.fresh(`${v}_quantized`);
      node('QuantizeLinear', [src, s8, z8], q);
      node('DequantizeLinear', [q, s8, z8], dq);
      continue;
    }
    const floatName = names.fresh(`${v}_float`);
    producerRename.set(v, floatName);
    const outputIndex = outputsOut.findIndex((o) => o.name === v);
    if (outputIndex < 0 || io === 'float') {
      const q = names.fresh(`${v}_quantized`);
      node('QuantizeLinear', [floatName, s8, z8], q);
      node('DequantizeLinear', [q, s8, z8], v);
      continue;
    }
    // integer output named v; whatever else reads v reads its DequantizeLinear
    const dq = names.fresh(`${v}_dequantized`);
    consumerRename.set(v, dq);
    if (io === 'int8') {
      outputsOut[outputIndex] = { ...outputsOut[outputIndex]!, dtype: 'int8' };
      node('QuantizeLinear', [floatName, s8, z8], v);
      node('DequantizeLinear', [v, s8, z8], dq);
    } else {
      outputsOut[outputIndex] = { ...outputsOut[outputIndex]!, dtype: 'uint8' };
      const q = names.fresh(`${v}_quantized`);
      node('QuantizeLinear', [floatName, s8, z8], q);
      node('DequantizeLinear', [q, s8, z8], dq);
      const [su, zu] = paramInits(v, p, 'uint8');
      node('QuantizeLinear', [dq, su, zu], v);
    }
  }
  for (const n of nodes) {
    n.outputs = n.outputs.map((o) => producerRename.get(o) ?? o);
    n.inputs = n.inputs.map((i) => consumerRename.get(i) ?? i);
    // a kept If / Loop body reads a renamed value (a graph input's dequantization) by its new name too
    if (subgraphsOf(n).length) for (const v of implicitInputs(n)) if (consumerRename.has(v)) n.attrs = renameOuterRead({ ...g, nodes: [n], inputs: [], outputs: [], initializers: new Map() }, v, consumerRename.get(v)!).nodes[0]!.attrs;
  }
  for (const n of weightDq) n.inputs = n.inputs.map((i) => consumerRename.get(i) ?? i);
  // a Concat input on other parameters than the output's: int8 -> int8 requantization in front
  for (const { concat, index, output } of concatRequants) {
    const [s8, z8] = paramInits(`${output}_input${index}`, params.get(output)!, act);
    const q = names.fresh(`${concat.inputs[index]}_requantized`);
    const dq = names.fresh(`${q}_dequantized`);
    node('QuantizeLinear', [concat.inputs[index]!, s8, z8], q);
    node('DequantizeLinear', [q, s8, z8], dq);
    concat.inputs[index] = dq;
  }
  const qdqGraph: Graph = { ...g, inputs: inputsOut, outputs: outputsOut, nodes: [...weightDq, ...nodes, ...qdq], initializers: inits };
  const result = lstm ? lstm.rewrite(qdqGraph) : qdqGraph;
  // drop float weights nothing reads any more (a kept If / Loop body's reads are reads)
  const read = new Set([...result.nodes.flatMap((n) => n.inputs.concat(implicitInputs(n))), ...result.outputs.map((o) => o.name)]);
  for (const k of [...inits.keys()]) if (!read.has(k)) inits.delete(k);
  const report = options.report ? await measure(g, result, params, samples, act === 'int16' ? [-32767, 32767] : [-128, 127]) : undefined;
  if (report) options.onReport?.(report);
  // (float: the graph as quantized, equalized or split: the same function, some values rescaled)
  return { graph: result, report, samples: count, params, float: g };
}

/** Each control-flow body at every depth named uniquely (its calibration ranges are keyed by it: bodyValueKey). */
function nameBodies(g: Graph, taken = new Set<string>()): Graph {
  const nodes = g.nodes.map((n) => {
    if (!subgraphsOf(n).length) return n;
    const attrs: Record<string, Attr> = {};
    for (const [k, a] of Object.entries(n.attrs)) {
      const one = (b: Graph, j?: number): Graph => {
        const base = `${n.name || n.opType}/${k}${j === undefined ? '' : `_${j}`}`;
        let name = base;
        for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
        taken.add(name);
        return nameBodies({ ...b, name }, taken);
      };
      attrs[k] = a.type === 'graph' ? { type: 'graph', value: one(a.value) } : a.type === 'graphs' ? { type: 'graphs', value: a.value.map(one) } : a;
    }
    return { ...n, attrs };
  });
  return { ...g, nodes };
}

/**
 * A dequantized value that a float consumer reads (a kept If / Loop, as an input or inside a body;
 * an op of `floatValues` alone, deciding a branch) beside other ops gets a DequantizeLinear of its
 * own for it: the TFLite writer keeps that DEQUANTIZE, and the integer ops beside it still read the
 * integers (a shared one made them float ops, a float CONV_2D of an int32 bias the interpreter refuses).
 */
function ownDequantize(g: Graph, floatValues: ReadonlySet<string>): Graph {
  const producer = producersOf(g.nodes);
  const readers = readersOf(g.nodes);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const names = new Names(g);
  const added: Node[] = [];
  const floatConsumer = (n: Node) => subgraphsOf(n).length > 0 || (n.outputs.length > 0 && n.outputs.every((o) => !o || floatValues.has(o)));
  const nodes = g.nodes.map((n) => {
    if (!floatConsumer(n)) return n;
    let m = n;
    for (const v of new Set([...n.inputs, ...implicitInputs(n)])) {
      const d = v ? producer.get(v) : undefined;
      if (!d || d.opType !== 'DequantizeLinear' || d.domain || g.initializers.has(d.inputs[0]!) || ((readers.get(v) ?? []).length < 2 && !outputs.has(v))) continue;
      const own = names.fresh(`${v}_for_${n.name || n.opType}`);
      added.push({ ...d, name: own, outputs: [own] });
      m = renameOuterRead({ ...g, nodes: [m], inputs: [], outputs: [], initializers: new Map() }, v, own).nodes[0]!;
    }
    return m;
  });
  return added.length ? { ...g, nodes: [...added, ...nodes] } : g;
}

/**
 * int8 / int16x8 of a graph that keeps run-time If / Loop (IF / WHILE subgraphs in TFLite). One
 * calibration runs the float graph and takes the range of every value of every body on each of
 * its executions (a loop's carried value over all its iterations: one range). The main graph is
 * quantized on its ranges, the control-flow nodes as float ops; each body, made standalone (the
 * values it reads around it as inputs), on its own ranges with its boundary on the parameters of
 * the graph around it (boundaryParams: a loop's carried value on one set for its initial value and
 * every iteration); then integerBoundary moves the dequantization of what crosses into the bodies,
 * so the IF / WHILE pass integers. What is float on either side (a decision, a float graph output,
 * a body no calibration sample ran, which stays float) crosses as float. Equalization, channel
 * splitting, bias correction and GPTQ weight rounding observe or run the graph they quantize
 * again: with one of them, each graph (the main graph, each body made standalone) is quantized with
 * it on its own samples, a body's being its inputs at each of its executions in the float run
 * (bodyInputs), with the same boundary parameters; equalization is on by default, as without
 * control flow, where some graph has a conv pair to equalize.
 */
async function toInt8WithBodies(g: Graph, options: QuantizeOptions): Promise<QuantizeResult> {
  // options that need each graph (the main graph, each body) calibrated on its own samples (a
  // body's: its inputs at each of its executions in the float run): they observe per-channel ranges,
  // Hessians or run the graph again, which the one calibration pass below does not give
  // the search runs regions of nodes on the values each reads explicitly; a kept If / Loop reads its bodies' values implicitly
  if (options.method === 'search') throw new UnsupportedError(`calibration method 'search' with ${options.mode} of a model with kept run-time control flow (If / Loop)`, "the search runs regions of the graph on the values their nodes read by name, and an If / Loop's bodies read the graph's values implicitly; use --method mse");
  const isLstm = (n: Node) => n.opType === 'LSTM' && (!n.domain || n.domain === 'ai.onnx');
  // measured: the float file of loop_lstm (tflite_control_flow_blocks.py) equals PyTorch for one trip (151 dB), 23.6 dB from the second
  if (options.mode === 'int8' && g.nodes.some((n) => subgraphsOf(n).some((b) => someNodeDeep(b, isLstm)))) throw new UnsupportedError(`integer LSTM inside a kept If / Loop body (${options.mode})`, "TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM keeps its h / c state in variable tensors, which a WHILE carries from one iteration into the next instead of starting each from the initial state");
  // (an LSTM becomes TFLite's integer LSTM: its inputs observed, its h / c ranges measured, during the calibration of the graph holding it)
  // equalization by default as for a graph without control flow (int8, minmax or mse), where some
  // graph has a group to equalize (else it changes nothing, and one calibration pass does)
  const byDefault = options.mode === 'int8' && (options.method === undefined || options.method === 'minmax' || options.method === 'mse');
  const equalize = options.equalize ?? (byDefault && someGraphDeep(g, (b) => findEqualizationGroups(b).length > 0));
  const perGraph = equalize || !!options.channelSplit || (options.clipSplit ?? 0) > 1 || options.weightRounding === 'gptq' || !!options.biasCorrection || (options.mode === 'int8' && g.nodes.some(isLstm));
  g = nameBodies(floatForInt8(g, options.onNote));
  const needed = new Set([...planParams(g, () => true)].filter(([, p]) => p.kind === 'range').map(([v]) => v));
  const cal = await calibrate(g, needed, options.calibration, options.method ?? 'minmax', options.onProgress, { onNote: options.onNote, bodies: true, report: options.report || perGraph });
  // (the report is measured once below, over the whole graph with its bodies)
  const flat = { ...options, equalize: false, onProgress: undefined, report: false };
  const bodyParams = new Map<string, ReadonlyMap<string, QParams>>();
  const floatBodies = new Map<string, Graph>();
  const actRange: RangeOptions = options.mode === 'int16x8' ? { dtype: 'int16', symmetric: true, narrowRange: true } : { dtype: 'int8' };
  // a detector (NonMaxSuppression, with the Ifs of its batched NMS): its post-processing stays float
  const detector = someNodeDeep(g, (n) => n.opType === 'NonMaxSuppression' && !n.domain);
  const floatMain = floatAroundControlFlow(g, false, options.io ?? 'float');
  if (detector) for (const v of postProcessing(g)) floatMain.add(v);
  const bodySamples = perGraph ? await bodyInputs(g, cal.inputs) : new Map<string, Map<string, Tensor>[]>();
  const labels = bodyLabels(g);
  // each graph quantized with the options on its own samples
  const own = (samples: Map<string, Tensor>[]): QuantizeOptions => ({ ...options, calibration: samples, calibrationCount: samples.length, onProgress: undefined, report: false, equalize });
  const main = perGraph ? await toInt8(g, own(cal.inputs), { keepFloat: floatMain }) : await toInt8(g, flat, { pre: cal, keepFloat: floatMain });
  // a body's samples by the names its standalone graph reads: a value the graph around it
  // quantized (a graph input's dequantization, read by the body under the new name) is fed its float source
  const feedsOf = (name: string, producers: ReadonlyMap<string, Node>): Map<string, Tensor>[] =>
    (bodySamples.get(name) ?? []).map((feed) => {
      const source = (v: string): Tensor | undefined => {
        for (let k = v, p = producers.get(k); ; p = producers.get(k)) {
          if (feed.has(k)) return feed.get(k);
          if (!p || p.domain || (p.opType !== 'DequantizeLinear' && p.opType !== 'QuantizeLinear') || !p.inputs[0]) return undefined;
          k = p.inputs[0];
        }
      };
      const b = standaloneInputs.get(name) ?? [];
      return new Map(b.flatMap((v) => (source(v) ? [[v, source(v)!] as const] : [])));
    });
  const standaloneInputs = new Map<string, string[]>();
  const quantizeBodies = async (outer: Graph, floatValues: ReadonlySet<string>, around: ReadonlySet<string>, aroundProducers: ReadonlyMap<string, Node> = new Map()): Promise<Graph> => {
    const producers = new Map([...aroundProducers, ...producersOf(outer.nodes)]);
    // a body's new names are none of the graphs' around it (it reads their values by name)
    const reserved = new Set([...around, ...outer.initializers.keys(), ...outer.inputs.map((v) => v.name), ...outer.nodes.flatMap((n) => n.outputs)]);
    // each body as mapSubgraphs makes it standalone (its outer reads as inputs), quantized on its
    // ranges, its own bodies next (inside the quantized body, by the names calibration saw); then put in its place
    const standalone = new Map<string, Graph>();
    bodiesOneLevel(outer, (b) => (standalone.set(b.name, b), b));
    const owner = new Map(outer.nodes.flatMap((n) => subgraphsOf(n).map((b) => [b.name, n] as const)));
    const done = new Map<string, Graph>();
    const carriedParams = new Map<string, QParams[]>();
    for (const [name, b] of standalone) {
      const prefix = bodyValueKey(name, '');
      const stats = new Map([...cal.stats].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
      const floats = new Set([...cal.floats].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)));
      if (!floats.size) options.onNote?.(`control-flow body '${name}' never ran on the calibration samples: it stays float`);
      const n = owner.get(name)!;
      const loop = n.opType === 'Loop' && !n.domain;
      // (a body's outputs cross on the parameters of the graph around it: none stays float for being an output)
      const keep = floatAroundControlFlow(b, loop, 'int8');
      if (detector) for (const v of postProcessing(b)) keep.add(v);
      const fixed = floats.size ? boundaryParams(outer, n, b, stats, actRange) : undefined;
      if (fixed && loop) carriedParams.set(name, fixed.carried);
      if (!floats.size) {
        done.set(name, b);
        continue;
      }
      standaloneInputs.set(name, b.inputs.map((v) => v.name));
      const q = perGraph ? await toInt8(b, { ...own(feedsOf(name, producers)), io: 'float', onNote: (note) => options.onNote?.(`${labels.get(name)?.label ?? name}: ${note}`) }, { keepFloat: keep, reserved, fixed: fixed!.params }) : await toInt8(b, { ...flat, io: 'float' }, { pre: { stats, floats, count: cal.count, inputs: [] }, keepFloat: keep, reserved, fixed: fixed!.params });
      bodyParams.set(name, q.params);
      floatBodies.set(name, q.float);
      done.set(name, await quantizeBodies(q.graph, keep, reserved, producers));
    }
    return integerBoundary(ownDequantize(bodiesOneLevel(outer, (b) => done.get(b.name) ?? b), floatValues), actRange, carriedParams);
  };
  const graph = await quantizeBodies(main.graph, floatMain, new Set());
  if (!options.report) return { graph, samples: cal.count };
  // the float graph each graph was quantized from (equalization rescales channels of values inside a graph), its bodies in place
  const withFloatBodies = (outer: Graph): Graph => bodiesOneLevel(outer, (b) => withFloatBodies(floatBodies.get(b.name) ?? b));
  const report = await measureWithBodies(perGraph ? withFloatBodies(main.float) : g, graph, main.params, bodyParams, cal.inputs, options.mode === 'int16x8' ? [-32767, 32767] : [-128, 127]);
  options.onReport?.(report);
  return { graph, report, samples: cal.count };
}

/**
 * The inputs of each control-flow body of `g` (at every depth, by name) at each of its executions in
 * the float run over `samples`: its formal inputs and the values it reads around it, what the body
 * made standalone (mapSubgraphs) is fed, so that it can be calibrated as a graph of its own. (The
 * executor gives a body's inputs first at each execution, in one order: the first of them starts the next.)
 */
async function bodyInputs(g: Graph, samples: readonly Map<string, Tensor>[]): Promise<Map<string, Map<string, Tensor>[]>> {
  const bodies = bodyLabels(g);
  const out = new Map<string, Map<string, Tensor>[]>();
  const first = new Map<string, string>();
  for (const feeds of samples) {
    const current = new Map<string, Map<string, Tensor>>();
    const onSubgraphValue = (b: Graph, v: string, t: Tensor) => {
      if (bodies.get(b.name)?.computed.has(v)) return;
      if (!first.has(b.name)) first.set(b.name, v);
      let feed = current.get(b.name);
      if (!feed || first.get(b.name) === v) {
        if (feed) out.get(b.name)!.push(feed);
        else if (!out.has(b.name)) out.set(b.name, []);
        current.set(b.name, (feed = new Map()));
      }
      feed.set(v, new Tensor(t.dtype, [...t.shape], t.data.slice() as never));
    };
    await runGraph(g, feeds, { optimize: false, onSubgraphValue });
    for (const [name, feed] of current) out.get(name)!.push(feed);
  }
  return out;
}

/** Whether `test` holds for `g` or for a control-flow body in it, at any depth. */
function someGraphDeep(g: Graph, test: (g: Graph) => boolean): boolean {
  return test(g) || g.nodes.some((n) => subgraphsOf(n).some((b) => someGraphDeep(b, test)));
}

/** Each control-flow body of `g`, at every depth, by name: how the report names it ("loop '/Loop' body", nested ones after their parent's) and the values its nodes compute. */
function bodyLabels(g: Graph, parent = '', out = new Map<string, { label: string; computed: Set<string>; ops: Map<string, string> }>()): Map<string, { label: string; computed: Set<string>; ops: Map<string, string> }> {
  for (const n of g.nodes) {
    for (const [k, a] of Object.entries(n.attrs)) {
      const bodies = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
      bodies.forEach((b, j) => {
        const label = `${parent}${n.opType.toLowerCase()} '${n.name || n.opType}' ${k}${a.type === 'graphs' ? ` ${j}` : ''}`;
        const ops = new Map(b.nodes.flatMap((m) => m.outputs.filter((o) => o).map((o) => [o, opKey(m)] as const)));
        out.set(b.name, { label, computed: new Set(ops.keys()), ops });
        bodyLabels(b, `${label} / `, out);
      });
    }
  }
  return out;
}

/** A report row's running sums. */
interface ErrorSums {
  max: number;
  sum: number;
  n: number;
  sig: number;
  noise: number;
  own: number;
}

/**
 * Adds float values `a` against their quantized run `b` to `e`: the largest and summed absolute error, signal and noise
 * energy, and (with the value's parameters `p`) the noise of `a`'s own rounding and clipping on them.
 */
function addError(e: ErrorSums, a: ArrayLike<number>, b: ArrayLike<number>, p: QParams | undefined, qmin: number, qmax: number): void {
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > e.max) e.max = d;
    e.sum += d;
    e.sig += a[i]! * a[i]!;
    e.noise += d * d;
    if (p) e.own += (a[i]! - (Math.min(qmax, Math.max(qmin, Math.round(a[i]! / p.scale) + p.zeroPoint)) - p.zeroPoint) * p.scale) ** 2;
  }
  e.n += a.length;
}

/** Signal to noise in dB of summed energies (Infinity without noise). */
const dbOf = (sig: number, noise: number): number => (noise > 0 ? 10 * Math.log10(sig / noise) : Infinity);

/**
 * The per-layer report of a graph with kept If / Loop: float (`float`, its bodies named as
 * calibrated) against quantized (`quant`) on the first 16 calibration samples, every quantized value
 * of the main graph and of each body (named `<body> / <value>`) over every execution of its body
 * (the k-th execution of a body in the float run against the k-th in the quantized one: a sample on
 * which the two run a body a different number of times, a branch or trip count that the int8
 * rounding changed, is not counted for that body's values), and each float graph output (the model's
 * output error, own SNR Infinity: no rounding of its own). Rows in the order the float run computes them.
 */
async function measureWithBodies(float: Graph, quant: Graph, params: ReadonlyMap<string, QParams>, bodyParams: ReadonlyMap<string, ReadonlyMap<string, QParams>>, samples: Map<string, Tensor>[], [qmin, qmax]: [number, number]): Promise<LayerError[]> {
  const bodies = bodyLabels(float);
  const mainOps = new Map(float.nodes.flatMap((n) => n.outputs.filter((o) => o).map((o) => [o, opKey(n)] as const)));
  // what is measured, by key (a body's value: bodyValueKey), with its parameters (none: a float graph output)
  const wanted = new Map<string, { row: string; op: string; p?: QParams; body?: string }>();
  for (const [v, p] of params) if (mainOps.has(v)) wanted.set(v, { row: v, op: mainOps.get(v)!, p });
  const quantOutputs = new Map(quant.outputs.map((o) => [o.name, o.dtype]));
  for (const o of float.outputs) if (!wanted.has(o.name) && mainOps.has(o.name) && quantOutputs.get(o.name) === 'float32') wanted.set(o.name, { row: o.name, op: mainOps.get(o.name)! });
  for (const [name, ps] of bodyParams) {
    const b = bodies.get(name);
    if (!b) continue;
    for (const [v, p] of ps) if (b.computed.has(v)) wanted.set(bodyValueKey(name, v), { row: `${b.label} / ${v}`, op: b.ops.get(v)!, p, body: b.label });
  }
  type Acc = ErrorSums & { executions: number; skipped: number };
  const acc = new Map<string, Acc>();
  const order: string[] = [];
  const record = (into: Map<string, Float32Array[]>, key: string, t: Tensor) => {
    if (!wanted.has(key) || t.dtype !== 'float32') return;
    let list = into.get(key);
    if (!list) into.set(key, (list = []));
    list.push(Float32Array.from(t.toFloat32()));
  };
  const run = async (g: Graph, feeds: Map<string, Tensor>, quantized: boolean): Promise<Map<string, Float32Array[]>> => {
    const seen = new Map<string, Float32Array[]>();
    const onSubgraphValue = (b: Graph, v: string, t: Tensor) => {
      record(seen, bodyValueKey(b.name, v), t);
      // a main-graph value that crosses into a body as integers is dequantized there under its own name (integerBoundary): its first one
      if (quantized && !seen.has(v)) record(seen, v, t);
    };
    await runGraph(g, feeds, { optimize: false, onValue: (v, t) => record(seen, v, t), onSubgraphValue });
    return seen;
  };
  for (const feeds of samples.slice(0, 16)) {
    const f = await run(float, feeds, false);
    const q = await run(quant, new Map(quant.inputs.flatMap((v) => (feeds.has(v.name) ? [[v.name, feeds.get(v.name)!] as const] : []))), true);
    for (const [key, fs] of f) {
      const qs = q.get(key) ?? [];
      let e = acc.get(key);
      if (!e) {
        acc.set(key, (e = { max: 0, sum: 0, n: 0, sig: 0, noise: 0, own: 0, executions: 0, skipped: 0 }));
        order.push(key);
      }
      if (qs.length !== fs.length || qs.some((x, k) => x.length !== fs[k]!.length)) {
        e.skipped += fs.length;
        continue;
      }
      const p = wanted.get(key)!.p;
      fs.forEach((a, k) => addError(e, a, qs[k]!, p, qmin, qmax));
      e.executions += fs.length;
    }
  }
  return order.map((key) => {
    const w = wanted.get(key)!;
    const e = acc.get(key)!;
    const row: LayerError = { value: w.row, op: w.op, maxAbs: e.max, meanAbs: e.sum / Math.max(e.n, 1), snrDb: dbOf(e.sig, e.noise), ownSnrDb: w.p ? dbOf(e.sig, e.own) : Infinity };
    if (w.body) Object.assign(row, { body: w.body, executions: e.executions });
    if (e.skipped) row.skippedExecutions = e.skipped;
    return row;
  });
}

type QParams = { scale: number; zeroPoint: number };

/** The parameters an activation DequantizeLinear of `g` gives `v` (undefined: none, or per axis). */
function dequantizedParams(g: Graph, v: string): QParams | undefined {
  const d = g.nodes.find((n) => n.opType === 'DequantizeLinear' && !n.domain && n.outputs[0] === v);
  if (!d || g.initializers.has(d.inputs[0]!) || d.attrs.axis !== undefined) return undefined;
  const s = g.initializers.get(d.inputs[1]!)?.toNumbers();
  if (!s || s.length !== 1) return undefined;
  return { scale: s[0]!, zeroPoint: g.initializers.get(d.inputs[2] ?? '')?.toNumbers()[0] ?? 0 };
}

/**
 * The parameters of a body's boundary values (standalone `b` of node `n` of `outer`, quantized
 * already): an outer value it reads, on the outer graph's; an If branch's output, on those the
 * outer graph quantizes the If's output with; a Loop's carried value, on one set for the initial
 * value, every iteration's input and result (the union of their ranges: `carried`, by position),
 * so that the values cross the IF / WHILE as integers with no requantization (integerBoundary).
 */
function boundaryParams(outer: Graph, n: Node, b: Graph, stats: ReadonlyMap<string, Stats>, range: RangeOptions): { params: Map<string, QParams>; carried: QParams[] } {
  const params = new Map<string, QParams>();
  const carried: QParams[] = [];
  // (a Loop body's formal inputs: the iteration, the condition and one per carried value)
  const formal = n.opType === 'Loop' ? n.inputs.length : 0;
  for (const v of b.inputs.slice(formal)) {
    const p = dequantizedParams(outer, v.name);
    if (p) params.set(v.name, p);
  }
  const readers = readersOf(outer.nodes);
  const quantizedAfter = (o: string): QParams | undefined => {
    const cs = readers.get(o) ?? [];
    const q = cs.length === 1 && cs[0]!.opType === 'QuantizeLinear' && !cs[0]!.domain ? cs[0]! : undefined;
    const s = q ? outer.initializers.get(q.inputs[1]!)?.toNumbers() : undefined;
    return s && s.length === 1 ? { scale: s[0]!, zeroPoint: outer.initializers.get(q!.inputs[2] ?? '')?.toNumbers()[0] ?? 0 } : undefined;
  };
  if (n.opType === 'If') {
    n.outputs.forEach((o, k) => {
      const p = o ? quantizedAfter(o) : undefined;
      const y = b.outputs[k];
      if (p && y) params.set(y.name, p);
    });
  } else {
    const [qmin, qmax] = range.dtype === 'int16' ? [-32767, 32767] : [-128, 127];
    n.inputs.slice(2).forEach((c, k) => {
      const init = c ? dequantizedParams(outer, c) : undefined;
      const input = b.inputs[2 + k];
      const result = b.outputs[1 + k];
      if (!init || !input || !result) return;
      const ranges = [[(qmin - init.zeroPoint) * init.scale, (qmax - init.zeroPoint) * init.scale], ...[input.name, result.name].flatMap((v) => (stats.has(v) ? [[stats.get(v)!.min, stats.get(v)!.max]] : []))];
      const p = scaleZeroPointFromMinMax(Math.min(...ranges.map((r) => r[0]!)), Math.max(...ranges.map((r) => r[1]!)), range);
      carried[k] = p;
      params.set(input.name, p);
      params.set(result.name, p);
    });
  }
  return { params, carried };
}

/** Names fresh in a body and in the graph around it. */
function freshIn(b: Graph, taken: Set<string>): (base: string) => string {
  const names = new Names(b);
  return (base) => {
    let name = names.fresh(base);
    while (taken.has(name)) name = names.fresh(base);
    taken.add(name);
    return name;
  };
}

/**
 * The integer boundary of each kept If / Loop of `g` (whose bodies are quantized, behind a float
 * boundary so far): a value dequantized only for the node crosses as its integers and is
 * dequantized inside each body; an output quantized only after the node is quantized at the end of
 * each body (both branches on the output's one scale). A Loop's carried value crosses on ONE scale
 * for every iteration: that of the union of the ranges of its initial value, of the body's
 * quantization of it and of the body's result, the initial value requantized to it before the
 * WHILE and the result after each iteration (int8 -> int8 QUANTIZE where the scales differ). A
 * value that is float on either side (a decision, a body that stayed float) keeps the float boundary.
 */
function integerBoundary(g: Graph, range: RangeOptions, carriedParams: ReadonlyMap<string, QParams[]> = new Map()): Graph {
  if (!g.nodes.some((n) => !n.domain && (n.opType === 'If' || n.opType === 'Loop'))) return g;
  const producer = producersOf(g.nodes);
  const readers = readersOf(g.nodes);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const taken = new Set<string>([...g.initializers.keys(), ...g.inputs.map((v) => v.name), ...g.nodes.flatMap((n) => n.outputs)]);
  const names = new Names(g);
  const inits = new Map(g.initializers);
  const removed = new Set<Node>();
  const added: Node[] = [];
  const qdq = (opType: string, inputs: string[], out: string): Node => ({ name: out, opType, domain: '', inputs, outputs: [out], attrs: {} });
  const isActivationDq = (d: Node | undefined): d is Node => !!d && d.opType === 'DequantizeLinear' && !d.domain && !g.initializers.has(d.inputs[0]!) && d.attrs.axis === undefined;
  const soleDq = (v: string, n: Node): Node | undefined => {
    const d = producer.get(v);
    return isActivationDq(d) && !outputs.has(v) && (readers.get(v) ?? []).every((r) => r === n) ? d : undefined;
  };
  const soleQ = (o: string): Node | undefined => {
    const cs = readers.get(o) ?? [];
    return cs.length === 1 && cs[0]!.opType === 'QuantizeLinear' && !cs[0]!.domain && !outputs.has(o) ? cs[0] : undefined;
  };
  const dtypeOf = (zeroPoint: string | undefined): 'int8' | 'int16' | 'uint8' => (inits.get(zeroPoint ?? '')?.dtype as 'int16' | 'uint8' | undefined) ?? 'int8';
  // the real range a scale / zero point holds
  const [qmin, qmax] = range.dtype === 'int16' ? [-32767, 32767] : [-128, 127];
  const held = (s: string, z: string, at: ReadonlyMap<string, Tensor> = inits): [number, number] => {
    const scale = at.get(s)!.toNumbers()[0]!;
    const zero = at.get(z)?.toNumbers()[0] ?? 0;
    return [(qmin - zero) * scale, (qmax - zero) * scale];
  };
  // the reads dequantized for the node alone: each body dequantizes them itself
  const moveReads = (n: Node, bodies: Graph[]): Graph[] => {
    let out = bodies;
    for (const v of implicitInputs(n)) {
      // (a Loop's initial value read by its body too stays float to the body: the WHILE takes it twice)
      const d = n.inputs.includes(v) ? undefined : soleDq(v, n);
      if (!d) continue;
      removed.add(d);
      out = out.map((b) => ({ ...b, nodes: [{ ...d }, ...b.nodes] }));
    }
    return out;
  };
  const withGraphs = (n: Node, next: Map<string, Graph>): Node => ({ ...n, attrs: Object.fromEntries(Object.entries(n.attrs).map(([k, a]) => [k, next.has(k) ? { type: 'graph', value: next.get(k)! } : a])) });
  const nodes = g.nodes.map((n) => {
    if (n.domain || (n.opType !== 'If' && n.opType !== 'Loop')) return n;
    const keys = Object.keys(n.attrs).filter((k) => n.attrs[k]!.type === 'graph');
    if (keys.length !== (n.opType === 'If' ? 2 : 1)) return n;
    let bodies = moveReads(
      n,
      keys.map((k) => (n.attrs[k] as { value: Graph }).value),
    );
    const outs = [...n.outputs];
    const ins = [...n.inputs];
    if (n.opType === 'If') {
      n.outputs.forEach((o, k) => {
        const q = o ? soleQ(o) : undefined;
        if (!q) return;
        removed.add(q);
        outs[k] = q.outputs[0]!;
        bodies = bodies.map((b) => {
          const fresh = freshIn(b, taken);
          const y = b.outputs[k]!;
          const yq = fresh(`${y.name}_${dtypeOf(q.inputs[2])}`);
          return { ...b, nodes: [...b.nodes, qdq('QuantizeLinear', [y.name, q.inputs[1]!, q.inputs[2]!], yq)], outputs: b.outputs.map((v, j) => (j === k ? { ...v, name: yq, dtype: dtypeOf(q.inputs[2]) } : v)) };
        });
      });
    } else {
      let body = bodies[0]!;
      const carried = n.inputs.slice(2);
      carried.forEach((c, k) => {
        const d = c ? producer.get(c) : undefined;
        const input = body.inputs[2 + k];
        const result = body.outputs[1 + k];
        if (!isActivationDq(d) || !input || !result) return;
        const bodyProducer = producersOf(body.nodes);
        const bodyQ = body.nodes.find((m) => m.opType === 'QuantizeLinear' && !m.domain && m.inputs[0] === input.name);
        const resultDq = bodyProducer.get(result.name);
        // the result must be on an integer grid already (a DequantizeLinear's) or the input itself
        if (result.name !== input.name && !isActivationDq(resultDq)) return;
        const own = new Map([...inits, ...body.initializers]);
        const ranges = [held(d.inputs[1]!, d.inputs[2]!), ...(bodyQ ? [held(bodyQ.inputs[1]!, bodyQ.inputs[2]!, own)] : []), ...(resultDq && result.name !== input.name ? [held(resultDq.inputs[1]!, resultDq.inputs[2]!, own)] : [])];
        // the body was quantized on these already (boundaryParams); else the union of what each side holds
        const p = carriedParams.get(body.name)?.[k] ?? scaleZeroPointFromMinMax(Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1])), range);
        const dtype = range.dtype === 'int16' ? 'int16' : 'int8';
        const sName = names.fresh(`${c}_carried_scale`);
        const zName = names.fresh(`${c}_carried_zero_point`);
        taken.add(sName).add(zName);
        inits.set(sName, Tensor.float32([], [p.scale]));
        inits.set(zName, dtype === 'int16' ? new Tensor('int16', [], Int16Array.of(p.zeroPoint)) : new Tensor('int8', [], Int8Array.of(p.zeroPoint)));
        // before the WHILE: the initial value on the carried scale
        const init = names.fresh(`${c}_carried`);
        taken.add(init);
        added.push(qdq('QuantizeLinear', [c, sName, zName], init));
        ins[2 + k] = init;
        // in the body: the input dequantized, the result quantized
        const fresh = freshIn(body, taken);
        const inInt = fresh(`${input.name}_${dtype}`);
        const outInt = fresh(`${result.name}_${dtype}`);
        body = {
          ...body,
          inputs: body.inputs.map((v, j) => (j === 2 + k ? { ...v, name: inInt, dtype } : v)),
          nodes: [qdq('DequantizeLinear', [inInt, sName, zName], input.name), ...body.nodes, qdq('QuantizeLinear', [result.name, sName, zName], outInt)],
          outputs: body.outputs.map((v, j) => (j === 1 + k ? { ...v, name: outInt, dtype } : v)),
        };
        // after it: the final value dequantized under the output's name
        const o = n.outputs[k];
        if (o) {
          const oInt = names.fresh(`${o}_${dtype}`);
          taken.add(oInt);
          outs[k] = oInt;
          added.push(qdq('DequantizeLinear', [oInt, sName, zName], o));
        }
      });
      bodies = [body];
    }
    return withGraphs({ ...n, inputs: ins, outputs: outs }, new Map(keys.map((k, j) => [k, bodies[j]!])));
  });
  if (!removed.size && !added.length) return g;
  // a Loop output's dequantization comes after the Loop (the graph is put in order again by its users: topologicalOrder)
  return { ...g, nodes: [...nodes.filter((m) => !removed.has(m)), ...added], initializers: inits };
}

/**
 * The values of `g` that stay float around its kept If / Loop: those computed only into a decision
 * (an If's condition, a Loop's trip count or condition, a Loop body's condition output) through
 * ops that give nothing else, so that no branch or iteration count hangs on the int8 rounding of a
 * sum near its threshold (data_if took the other branch in the interpreter); and, with float I/O,
 * a control-flow output that is only a graph output.
 */
function floatAroundControlFlow(g: Graph, loopBody: boolean, io: 'float' | 'int8' | 'uint8'): Set<string> {
  const decision = new Set<string>();
  const controlFlow = (n: Node) => subgraphsOf(n).length > 0;
  for (const n of g.nodes) {
    if (n.domain && n.domain !== 'ai.onnx') continue;
    if (n.opType === 'If' && n.inputs[0]) decision.add(n.inputs[0]);
    if (n.opType === 'Loop') for (const v of n.inputs.slice(0, 2)) if (v) decision.add(v);
  }
  if (loopBody && g.outputs[0]) decision.add(g.outputs[0].name);
  const consumers = readersOf(g.nodes);
  const outputs = new Set(g.outputs.map((o) => o.name));
  // (reverse topological order: every consumer of a value is settled when its last one is reached)
  for (const n of topologicalOrder(g).reverse()) {
    if (controlFlow(n) || !n.outputs.every((o) => !o || decision.has(o))) continue;
    for (const v of n.inputs) {
      if (!v || decision.has(v) || outputs.has(v) || g.initializers.has(v)) continue;
      if ((consumers.get(v) ?? []).every((c) => !controlFlow(c) && c.outputs.every((o) => !o || decision.has(o)))) decision.add(v);
    }
  }
  // with float I/O a kept If / Loop output that is only a graph output stays as its body gave it
  // (no QUANTIZE on a range of its own: a Loop of 0 trips passes its input through, beyond the range its iterations give)
  if (io === 'float') for (const n of g.nodes.filter(controlFlow)) for (const o of n.outputs) if (o && outputs.has(o) && !consumers.has(o)) decision.add(o);
  return decision;
}

/**
 * A detector's post-processing: the values from which no conv / dense (here or in a body) is
 * reached, except the outputs of those layers themselves (and of the Relu / Clip fused into one).
 * They stay float: box decoding, score thresholds and NMS lose coordinates and near-ties on an
 * int8 grid (a Clip of the box deltas to log(1000 / 16) has no int8 kernel at all) and hold no
 * multiply-heavy work.
 */
function postProcessing(g: Graph): Set<string> {
  const layer = (n: Node): boolean => weightAxis(n) !== undefined && (opKey(n) !== 'MatMul' || g.initializers.has(n.inputs[1] ?? ''));
  const reachesLayer = (n: Node): boolean => layer(n) || subgraphsOf(n).some((b) => someNodeDeep(b, (m) => weightAxis(m) !== undefined));
  const feeds = new Set<string>();
  for (const n of topologicalOrder(g).reverse()) {
    if (reachesLayer(n) || n.outputs.some((o) => feeds.has(o))) for (const v of [...n.inputs, ...implicitInputs(n)]) if (v) feeds.add(v);
  }
  const consumers = readersOf(g.nodes);
  const kept = new Set<string>();
  for (const n of g.nodes) {
    if (!layer(n)) continue;
    for (const o of n.outputs) kept.add(o);
    const c = consumers.get(n.outputs[0]!) ?? [];
    if (c.length === 1 && ACTIVATION.has(c[0]!.opType) && !c[0]!.domain) kept.add(c[0]!.outputs[0]!);
  }
  const tail = new Set<string>();
  for (const v of [...g.inputs.map((i) => i.name), ...g.nodes.flatMap((n) => n.outputs)]) if (v && !feeds.has(v) && !kept.has(v)) tail.add(v);
  return tail;
}

/** `pass` applied to each control-flow body of `graph`'s own nodes (not deeper), each made standalone as mapSubgraphs does. */
function bodiesOneLevel(graph: Graph, pass: (g: Graph) => Graph): Graph {
  if (!graph.nodes.some((n) => subgraphsOf(n).length)) return graph;
  const { values } = inferShapes(graph, { record: false, onError: 'unknown' });
  const nodes = graph.nodes.map((n) => mapNodeSubgraphs(n, (v) => values.get(v), graph.opsets, (s) => pass(s.graph), (v) => graph.initializers.get(v)));
  return { ...graph, nodes };
}

/** method 'search': the calibrated ranges searched on the graph with its int8 weights (scale-search.ts). */
async function searchRanges(g: Graph, plan: Map<string, ParamPlan>, boundsOf: (v: string) => [number, number], stats: Map<string, Stats>, nodes: Node[], weightDq: Node[], inits: Map<string, Tensor>, samples: Map<string, Tensor>[], act: RangeOptions, options?: ScaleSearchOptions): Promise<Map<string, [number, number]>> {
  const ranges = new Map<string, [number, number]>();
  const limits = new Map<string, [number, number]>();
  for (const [v, p] of plan) {
    const s = stats.get(v);
    if (p.kind !== 'range' || !s) continue;
    ranges.set(v, boundsOf(v));
    limits.set(v, [s.min, s.max]);
  }
  const weights = await dequantizedWeights(weightDq, inits, g.opsets);
  const read = new Set(nodes.flatMap((n) => n.inputs));
  const simInits = new Map([...inits].filter(([k]) => read.has(k)));
  for (const [k, t] of weights) simInits.set(k, t);
  await searchActivationRanges({ ...g, nodes, initializers: simInits }, plan, ranges, limits, samples, act, options);
  return ranges;
}

/** Float vs quantized value of every quantized tensor over the samples. */
async function measure(float: Graph, quant: Graph, params: ReadonlyMap<string, { scale: number; zeroPoint: number }>, samples: Map<string, Tensor>[], [qmin, qmax]: [number, number]): Promise<LayerError[]> {
  const values = [...params.keys()];
  const acc = new Map<string, { max: number; sum: number; n: number; sig: number; noise: number; own: number }>();
  const opOf = new Map<string, string>();
  for (const n of float.nodes) for (const o of n.outputs) opOf.set(o, opKey(n));
  const wanted = new Set(values);
  for (const feeds of samples.slice(0, 16)) {
    const f = await runGraph(float, feeds, { outputs: values.filter((v) => opOf.has(v) || feeds.has(v)).filter((v) => !feeds.has(v)) });
    const qFeeds = new Map<string, Tensor>();
    for (const v of quant.inputs) {
      const src = feeds.get(v.name);
      if (src) qFeeds.set(v.name, src);
    }
    if (qFeeds.size !== quant.inputs.length) return [];
    const q = await runGraph(quant, qFeeds, { outputs: [...f.outputs.keys()].filter((v) => wanted.has(v)) });
    for (const [name, ft] of f.outputs) {
      const qt = q.outputs.get(name);
      if (!qt) continue;
      const a = ft.data as Float32Array;
      const b = qt.toFloat32();
      const { scale, zeroPoint } = params.get(name)!;
      let e = acc.get(name);
      if (!e) acc.set(name, (e = { max: 0, sum: 0, n: 0, sig: 0, noise: 0, own: 0 }));
      addError(e, a, b, { scale, zeroPoint }, qmin, qmax);
    }
  }
  return [...acc].map(([value, e]) => ({ value, op: opOf.get(value) ?? '?', maxAbs: e.max, meanAbs: e.sum / Math.max(e.n, 1), snrDb: dbOf(e.sig, e.noise), ownSnrDb: dbOf(e.sig, e.own) }));
}

/** Quantize a channels-last graph (the TFLite writer's prepared graph). */
export async function quantizeGraph(g: Graph, options: QuantizeOptions): Promise<QuantizeResult> {
  // float16 weights (a float16 TFLite file read) are quantized from their float32 values
  g = decodeHalfWeights(g).graph;
  // an initializer listed among the inputs (ONNX IR < 4: a weight is an input with a default) is
  // a weight: once quantized its float tensor is dropped, and the name would be left as a file input
  if (g.inputs.some((v) => g.initializers.has(v.name))) g = { ...g, inputs: g.inputs.filter((v) => !g.initializers.has(v.name)) };
  switch (options.mode) {
    case 'float16':
      return { graph: toFloat16(g) };
    case 'dynamic':
      if (options.dynamic !== undefined && options.dynamic !== 'hybrid' && options.dynamic !== 'weight-only') throw new QuantizationError(`dynamic kernels must be 'hybrid' or 'weight-only', not '${String(options.dynamic)}'`);
      if (options.minElements !== undefined && !(Number.isInteger(options.minElements) && options.minElements >= 0)) throw new QuantizationError(`minElements must be a whole number of weight elements, not ${options.minElements}`);
      {
        // kept If / Loop bodies (IF / WHILE subgraphs): their weights int8 as the main graph's, each body made standalone (its outer weights copied in)
        const dynamic = (b: Graph) => toDynamic(b, options.minElements, options.dynamic ?? 'hybrid');
        return { graph: dynamic(mapSubgraphs(g, dynamic)) };
      }
    case 'int8':
    case 'int16x8':
      if (someNodeDeep(g, (n) => subgraphsOf(n).length > 0)) return toInt8WithBodies(g, options);
      {
        const { params: _, float: __, ...result } = await toInt8(g, options);
        return result;
      }
    default:
      throw new UnsupportedError(`quantization mode '${String(options.mode)}'`, 'use float16, dynamic, int8 or int16x8');
  }
}

/** Signal-to-noise ratio of `got` against `want`, in dB. */
export function snrDb(want: ArrayLike<number>, got: ArrayLike<number>): number {
  let sig = 0;
  let noise = 0;
  for (let i = 0; i < want.length; i++) {
    sig += want[i]! * want[i]!;
    noise += (want[i]! - got[i]!) ** 2;
  }
  return dbOf(sig, noise);
}

/** Quantize one float32 tensor per tensor (exported for tests of the parameters chosen). */
export function quantizeTensorInt8(t: Tensor): { q: Tensor; scale: number; zeroPoint: number } {
  const r = minMax(t);
  const p = scaleZeroPointFromMinMax(r.min, r.max, { dtype: 'int8' });
  return { q: quantizePerTensor(t, p.scale, p.zeroPoint, { dtype: 'int8', rounding: 'half-away' }), ...p };
}

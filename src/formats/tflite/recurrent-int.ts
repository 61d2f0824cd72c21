// TFLite's stateful ops with integer arithmetic QDQ cannot express: SVDF (float and int8 with an
// int16 or int8 state). Each becomes one channels-last `nnport` op reading the file's own tensors
// (integer data as stored) with the quantization as attributes; the integer runtime runs TFLite's
// arithmetic, the float runtime the dequantized model (src/runtime/integer/svdf.ts).
// A variable (state) tensor becomes a constant of zeros: nnport computes what the interpreter
// computes on its first invoke after allocating the tensors (the interpreter keeps the state
// from one invoke to the next; nnport's run has no memory of earlier runs).
import { FormatError, QuantizationError, UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrFloats, attrInt, attrInts, attrString, type Attr, type Graph, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { ActivationFunctionType } from '../generated/tflite/activation-function-type.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { SVDFOptions } from '../generated/tflite/svdfoptions.js';
import { UnidirectionalSequenceLSTMOptions } from '../generated/tflite/unidirectional-sequence-lstmoptions.js';
import type { WriteContext } from './ops-write.js';
import type { OpContext, TfliteTensorInfo } from './read.js';

/** The note every stateful op's node carries (its doc string). */
export const STATE_NOTE = 'state starts at zero on every run: the result is the TFLite interpreter\'s first invoke after allocating its tensors';

function input(c: OpContext, i: number, what: string): TfliteTensorInfo {
  const idx = c.inputs[i];
  if (idx === undefined || idx < 0) throw new FormatError(`${c.opName} '${outputOf(c).name}': the ${what} (input ${i}) is missing`, { file: c.b.file });
  return c.b.tensors[idx]!;
}

function outputOf(c: OpContext): TfliteTensorInfo {
  const idx = c.outputs[0];
  if (idx === undefined) throw new FormatError(`${c.opName}: output 0 is missing`, { file: c.b.file });
  return c.b.tensors[idx]!;
}

const optional = (c: OpContext, i: number): TfliteTensorInfo | undefined => {
  const idx = c.inputs[i];
  return idx === undefined || idx < 0 ? undefined : c.b.tensors[idx];
};

/**
 * The state tensor as a constant: its own data, or what the interpreter resets a variable tensor
 * to (ResetVariableTensor): zeros, but an int8 tensor's zero point (a real 0).
 */
function stateInitializer(c: OpContext, t: TfliteTensorInfo): string {
  if (c.b.initializers.has(t.name)) return t.name;
  const init = Tensor.zeros(t.dtype, t.shape);
  if (t.dtype === 'int8' && t.quant) (init.data as Int8Array).fill(t.quant.zeroPoint[0]!);
  c.b.initializers.set(t.name, init);
  return t.name;
}

/**
 * The state tensor as one row [1, n] (the op repeats it over the batch): under a dynamic batch the
 * stored batch is a placeholder. A state stored with differing rows has no one-row form.
 */
function oneRowState(c: OpContext, t: TfliteTensorInfo, n: number, where: string): string {
  const full = c.b.initializers.get(stateInitializer(c, t))!;
  const values = full.toNumbers();
  if (values.some((v, k) => v !== values[k % n])) throw new UnsupportedError(`${c.opName} with an initial state that differs between batch rows under a dynamic batch`, `${where} in ${c.b.file}: state '${t.name}' holds different rows, and the batch is only known at run time`);
  const row = Tensor.zeros(full.dtype, [1, n]);
  (row.data as Int8Array | Int16Array).set((full.data as Int8Array | Int16Array).subarray(0, n));
  c.b.initializers.set(t.name, row);
  return t.name;
}

/** One scale and zero point of a per-tensor quantized operand. */
function perTensor(c: OpContext, t: TfliteTensorInfo, what: string): { scale: number; zeroPoint: number } {
  const q = t.quant;
  if (!q || q.axis !== undefined || q.scale.length !== 1) throw new QuantizationError(`${c.b.file}: ${c.opName} '${outputOf(c).name}': the ${what} '${t.name}' must be quantized per tensor`);
  return { scale: q.scale[0]!, zeroPoint: q.zeroPoint[0]! };
}

const ACTIVATION_NAMES: Partial<Record<ActivationFunctionType, string>> = {
  [ActivationFunctionType.NONE]: 'NONE',
  [ActivationFunctionType.RELU]: 'RELU',
  [ActivationFunctionType.RELU_N1_TO_1]: 'RELU_N1_TO_1',
  [ActivationFunctionType.RELU6]: 'RELU6',
  [ActivationFunctionType.TANH]: 'TANH',
  [ActivationFunctionType.SIGN_BIT]: 'SIGN_BIT',
};

/** SVDF: input, weights_feature, weights_time, bias (optional), state (variable) -> output. */
export function svdf(c: OpContext): void {
  const out = outputOf(c);
  const where = `SVDF '${out.name}'`;
  const o = c.op.builtinOptionsType() === BuiltinOptions.SVDFOptions ? (c.op.builtinOptions(new SVDFOptions()) as SVDFOptions) : null;
  if (!o) throw new FormatError(`${where} has no SVDFOptions`, { file: c.b.file });
  const x = input(c, 0, 'input');
  const wf = input(c, 1, 'weights_feature');
  const wt = input(c, 2, 'weights_time');
  const bias = optional(c, 3);
  const state = input(c, 4, 'state');
  const rank = o.rank();
  const activation = ACTIVATION_NAMES[o.fusedActivationFunction()];
  if (!activation) throw new UnsupportedError(`SVDF fused activation ${ActivationFunctionType[o.fusedActivationFunction()] ?? o.fusedActivationFunction()}`, `${where} in ${c.b.file}`);
  if (x.shape.length !== 2 || wf.shape.length !== 2 || wt.shape.length !== 2) {
    throw new FormatError(`${where}: input [${x.shape.join(', ')}], weights_feature [${wf.shape.join(', ')}] and weights_time [${wt.shape.join(', ')}] must be 2-D`, { file: c.b.file });
  }
  const [batch, features] = x.shape as [number, number];
  const [filters, wfIn] = wf.shape as [number, number];
  const [wtFilters, memory] = wt.shape as [number, number];
  if (rank < 1 || filters % rank !== 0) throw new FormatError(`${where}: rank ${rank} does not divide its ${filters} filters`, { file: c.b.file });
  if (wfIn !== features || wtFilters !== filters) throw new FormatError(`${where}: weights_feature [${wf.shape.join(', ')}] and weights_time [${wt.shape.join(', ')}] do not fit an input of ${features} features and ${filters} filters`, { file: c.b.file });
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== filters / rank)) throw new FormatError(`${where}: bias '${bias.name}' [${bias.shape.join(', ')}] must be [${filters / rank}] (filters / rank)`, { file: c.b.file });
  if (state.shape.length !== 2 || state.shape[0] !== batch || state.shape[1] !== filters * memory) {
    throw new FormatError(`${where}: state '${state.name}' has shape [${state.shape.join(', ')}], expected [${batch}, ${filters * memory}] (batch, filters·memory)`, { file: c.b.file });
  }
  const attrs: Record<string, Attr> = { rank: { type: 'int', value: rank }, activation: { type: 'string', value: activation } };
  const floatInput = x.dtype === 'float32';
  if (floatInput && wf.dtype === 'int8') {
    hybridSvdf(c, o, x, wf, wt, bias, state, out, attrs);
    return;
  }
  if (floatInput && wf.dtype !== 'float32') throw new UnsupportedError(`TFLite hybrid SVDF with ${wf.dtype} weights_feature`, `${where} in ${c.b.file}: nnport runs float, int8 and hybrid (int8-weight) SVDFs`);
  if (!floatInput) {
    if (x.dtype !== 'int8' || wf.dtype !== 'int8' || out.dtype !== 'int8') throw new UnsupportedError(`TFLite SVDF of ${x.dtype} input, ${wf.dtype} weights_feature and ${out.dtype} output`, `${where} in ${c.b.file}: nnport runs float and int8 SVDFs`);
    if ((wt.dtype !== 'int16' && wt.dtype !== 'int8') || wt.dtype !== state.dtype) throw new UnsupportedError(`TFLite SVDF with ${wt.dtype} weights_time and ${state.dtype} state`, `${where} in ${c.b.file}: both int16 (TFLite) or both int8 (TFLite Micro)`);
    if (bias && bias.dtype !== 'int32') throw new UnsupportedError(`TFLite SVDF with a ${bias.dtype} bias`, `${where} in ${c.b.file}`);
    const q = {
      input: perTensor(c, x, 'input'),
      weights_feature: perTensor(c, wf, 'weights_feature'),
      weights_time: perTensor(c, wt, 'weights_time'),
      state: perTensor(c, state, 'state'),
      output: perTensor(c, out, 'output'),
    };
    for (const k of ['weights_feature', 'weights_time'] as const) {
      if (q[k].zeroPoint !== 0) throw new QuantizationError(`${c.b.file}: ${where}: ${k} zero point ${q[k].zeroPoint}, TFLite's integer SVDF takes symmetric weights (zero point 0)`);
    }
    if (state.dtype === 'int16' && q.state.zeroPoint !== 0) throw new QuantizationError(`${c.b.file}: ${where}: int16 state zero point ${q.state.zeroPoint}, TFLite's integer SVDF needs 0`);
    const biasScale = bias ? perTensor(c, bias, 'bias').scale : q.state.scale * q.weights_time.scale;
    const float = (value: number): Attr => ({ type: 'float', value });
    const int = (value: number): Attr => ({ type: 'int', value });
    Object.assign(attrs, {
      input_scale: float(q.input.scale),
      input_zero_point: int(q.input.zeroPoint),
      weights_feature_scale: float(q.weights_feature.scale),
      weights_time_scale: float(q.weights_time.scale),
      bias_scale: float(biasScale),
      state_scale: float(q.state.scale),
      state_zero_point: int(q.state.zeroPoint),
      output_scale: float(q.output.scale),
      output_zero_point: int(q.output.zeroPoint),
    });
  } else if ([wt, state, out, ...(bias ? [bias] : [])].some((t) => t.dtype !== 'float32')) {
    throw new UnsupportedError('TFLite SVDF with float input and non-float operands', `${where} in ${c.b.file}`);
  }
  const n = c.b.node('Svdf', [x.name, wf.name, wt.name, bias?.name ?? '', stateInitializer(c, state)], [out.name], attrs, 'nnport');
  n.doc = `TFLite SVDF: ${STATE_NOTE}`;
}

/**
 * A hybrid (dynamic-range) SVDF: float input, state, bias and output, int8 weights_feature and
 * weights_time (svdf.cc EvalHybridSVDF). The kernel quantizes each batch row of the input to int8
 * on the fly (asymmetrically with asymmetric_quantize_inputs), multiplies by the int8
 * weights_feature and scales the int32 sums back by input scale · weight scale; weights_time it
 * dequantizes to float once. nnport::HybridInputQuantize before the float SVDF on the dequantized
 * weights computes the same to float rounding.
 */
function hybridSvdf(c: OpContext, o: SVDFOptions, x: TfliteTensorInfo, wf: TfliteTensorInfo, wt: TfliteTensorInfo, bias: TfliteTensorInfo | undefined, state: TfliteTensorInfo, out: TfliteTensorInfo, attrs: Record<string, Attr>): void {
  const where = `hybrid SVDF '${out.name}'`;
  if (wt.dtype !== 'int8' && wt.dtype !== 'float32') throw new UnsupportedError(`TFLite hybrid SVDF with ${wt.dtype} weights_time`, `'${out.name}' in ${c.b.file}`);
  for (const t of [state, out, ...(bias ? [bias] : [])]) {
    if (t.dtype !== 'float32') throw new UnsupportedError(`TFLite hybrid SVDF with a ${t.dtype} ${t === state ? 'state' : t === out ? 'output' : 'bias'}`, `'${out.name}' in ${c.b.file}: float state, bias and output expected beside int8 weights`);
  }
  const dequantize = (t: TfliteTensorInfo, what: string): string => {
    if (t.dtype === 'float32') return t.name;
    const q = perTensor(c, t, what);
    if (q.zeroPoint !== 0) throw new QuantizationError(`${c.b.file}: ${where}: ${what} '${t.name}' has zero point ${q.zeroPoint}, the hybrid kernel takes symmetric weights`);
    const data = c.b.initializers.get(t.name);
    if (!data) throw new UnsupportedError(`TFLite hybrid SVDF with a computed ${what}`, `'${out.name}' in ${c.b.file}`);
    return c.b.initializer(`${t.name}_dequantized`, Tensor.float32(t.shape, Float32Array.from(data.data as Int8Array, (v) => Math.fround(v * q.scale))));
  };
  const symmetric = !o.asymmetricQuantizeInputs();
  const xq = c.b.fresh(`${x.name}_hybrid_int8`);
  c.b.node('HybridInputQuantize', [x.name], [xq], { symmetric: { type: 'int', value: symmetric ? 1 : 0 }, axis: { type: 'int', value: -1 } }, 'nnport');
  const n = c.b.node('Svdf', [xq, dequantize(wf, 'weights_feature'), dequantize(wt, 'weights_time'), bias?.name ?? '', stateInitializer(c, state)], [out.name], attrs, 'nnport');
  n.doc = `TFLite hybrid SVDF (int8 weights, input rounded to int8 per row ${symmetric ? 'symmetrically' : 'asymmetrically'} on the fly): ${STATE_NOTE}`;
}

/** The `nnport` ops of TFLite's stateful integer kernels, which only a TFLite file can hold. */
export const TFLITE_STATEFUL_OPS: ReadonlySet<string> = new Set(['Svdf', 'QuantizedLstm']);

/** Writers of every format but TFLite: an UnsupportedError naming the first stateful op of `graph`. */
export function refuseTfliteStatefulOps(graph: Graph, format: string): void {
  const n = graph.nodes.find((x) => x.domain === 'nnport' && TFLITE_STATEFUL_OPS.has(x.opType));
  if (n) throw new UnsupportedError(`nnport.${n.opType} (TFLite's stateful ${n.opType === 'Svdf' ? 'SVDF' : 'integer UNIDIRECTIONAL_SEQUENCE_LSTM'}) in ${format}`, `node '${n.name}': no ${format} op keeps its state (nnport runs it and writes it back to TFLite)`);
}

/** A stateful op with integer arithmetic (quantization attributes): the graph runs on the integer runtime. */
export const isIntegerStatefulNode = (n: Node): boolean => n.domain === 'nnport' && TFLITE_STATEFUL_OPS.has(n.opType) && ('input_scale' in n.attrs || 'scales' in n.attrs);

/** Whether an UNIDIRECTIONAL_SEQUENCE_LSTM runs TFLite's integer kernel (quantized input): then quantizedLstm reads it. */
export const isQuantizedLstm = (c: OpContext): boolean => {
  const idx = c.inputs[0];
  return idx !== undefined && idx >= 0 && !!c.b.tensors[idx]?.quant && c.b.tensors[idx]!.dtype !== 'float32';
};

/**
 * UNIDIRECTIONAL_SEQUENCE_LSTM with int8 input (TFLite's 8x8_16 integer kernel): one
 * nnport.QuantizedLstm over the 24 inputs as stored, the two variable states as zero constants.
 */
export function quantizedLstm(c: OpContext): void {
  const out = outputOf(c);
  const where = `UNIDIRECTIONAL_SEQUENCE_LSTM '${out.name}'`;
  const o = c.op.builtinOptionsType() === BuiltinOptions.UnidirectionalSequenceLSTMOptions ? (c.op.builtinOptions(new UnidirectionalSequenceLSTMOptions()) as UnidirectionalSequenceLSTMOptions) : null;
  if (!o) throw new FormatError(`${where} has no UnidirectionalSequenceLSTMOptions`, { file: c.b.file });
  if (c.inputs.length !== 24) throw new UnsupportedError(`integer UNIDIRECTIONAL_SEQUENCE_LSTM with ${c.inputs.length} inputs`, `${where} in ${c.b.file}: TFLite's integer kernel takes 24`);
  const x = input(c, 0, 'input');
  if (x.dtype !== 'int8' || out.dtype !== 'int8') throw new UnsupportedError(`TFLite UNIDIRECTIONAL_SEQUENCE_LSTM of ${x.dtype} input and ${out.dtype} output`, `${where} in ${c.b.file}: nnport runs float and int8 (int16 cell) LSTMs`);
  const inter = Array.from({ length: c.op.intermediatesLength() }, (_, i) => c.op.intermediates(i)!);
  if (inter.length !== 5) throw new UnsupportedError(`integer UNIDIRECTIONAL_SEQUENCE_LSTM with ${inter.length} intermediates`, `${where} in ${c.b.file}: nnport runs the 8x8_16 kernel (5 intermediates)`);
  const layerNorm = (c.inputs[21] ?? -1) >= 0;
  const activation = ACTIVATION_NAMES[o.fusedActivationFunction()] ?? (o.fusedActivationFunction() === ActivationFunctionType.NONE ? 'NONE' : undefined);
  if (activation !== 'TANH') throw new UnsupportedError(`integer UNIDIRECTIONAL_SEQUENCE_LSTM with fused activation ${ActivationFunctionType[o.fusedActivationFunction()] ?? o.fusedActivationFunction()}`, `${where} in ${c.b.file}: TFLite's integer kernel takes TANH`);
  // a dynamic batch (-1 in the input's shape_signature): each state one row, which the op repeats over the run-time batch
  const dynamicBatch = x.signature?.[o.timeMajor() ? 1 : 0] === -1;
  const nCell = input(c, 2, 'input_to_forget_weights').shape[0]!;
  const nOutput = input(c, 6, 'recurrent_to_forget_weights').shape[1]!;
  const names: string[] = [];
  const scales: number[] = [];
  const zeroPoints: number[] = [];
  for (let i = 0; i < 24; i++) {
    const t = optional(c, i);
    if (!t) {
      names.push('');
      scales.push(0);
      zeroPoints.push(0);
      continue;
    }
    if (!t.quant) throw new QuantizationError(`${c.b.file}: ${where}: input ${i} '${t.name}' is not quantized`);
    const q = perTensor(c, t, `input ${i}`);
    if ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16].includes(i) && q.zeroPoint !== 0) throw new QuantizationError(`${c.b.file}: ${where}: weights '${t.name}' have zero point ${q.zeroPoint}, TFLite's integer LSTM takes symmetric weights`);
    scales.push(q.scale);
    zeroPoints.push(q.zeroPoint);
    names.push(i === 18 || i === 19 ? (dynamicBatch ? oneRowState(c, t, i === 18 ? nOutput : nCell, where) : stateInitializer(c, t)) : t.name);
  }
  const hs = input(c, 18, 'output_state');
  const cs = input(c, 19, 'cell_state');
  const [d0, d1] = x.shape as [number, number];
  const batch = o.timeMajor() ? d1 : d0;
  if (x.shape.length !== 3) throw new FormatError(`${where}: input '${x.name}' has shape [${x.shape.join(', ')}], expected 3-D`, { file: c.b.file });
  if (hs.shape.reduce((p, v) => p * v, 1) !== batch * nOutput) throw new FormatError(`${where}: output state '${hs.name}' has shape [${hs.shape.join(', ')}], expected [${batch}, ${nOutput}]`, { file: c.b.file });
  if (cs.shape.reduce((p, v) => p * v, 1) !== batch * nCell) throw new FormatError(`${where}: cell state '${cs.name}' has shape [${cs.shape.join(', ')}], expected [${batch}, ${nCell}]`, { file: c.b.file });
  if (hs.dtype !== 'int8' || cs.dtype !== 'int16') throw new UnsupportedError(`TFLite integer LSTM with ${hs.dtype} output state and ${cs.dtype} cell state`, `${where} in ${c.b.file}: nnport runs int8 / int16`);
  const interScales: number[] = [];
  const interZps: number[] = [];
  inter.forEach((idx, k) => {
    const t = c.b.tensors[idx];
    if (!t) throw new FormatError(`${where}: intermediate tensor ${idx} is out of range`, { file: c.b.file });
    // without layer norm the 4 gate intermediates are unused (the gates sit on 2^-12)
    const q = t.quant && t.quant.scale.length ? { scale: t.quant.scale[0]!, zeroPoint: t.quant.zeroPoint[0]! } : undefined;
    if ((k === 4 || layerNorm) && !q) throw new QuantizationError(`${c.b.file}: ${where}: the ${k === 4 ? 'hidden-state' : 'gate'} intermediate '${t.name}' has no quantization`);
    interScales.push(q?.scale ?? 2 ** -12);
    interZps.push(q?.zeroPoint ?? 0);
  });
  const outQ = perTensor(c, out, 'output');
  const floats = (value: number[]): Attr => ({ type: 'floats', value });
  const ints = (value: number[]): Attr => ({ type: 'ints', value });
  const n = c.b.node(
    'QuantizedLstm',
    names,
    [out.name],
    {
      time_major: { type: 'int', value: o.timeMajor() ? 1 : 0 },
      activation: { type: 'string', value: activation },
      cell_clip: { type: 'float', value: o.cellClip() },
      proj_clip: { type: 'float', value: o.projClip() },
      scales: floats(scales),
      zero_points: ints(zeroPoints),
      intermediate_scales: floats(interScales),
      intermediate_zero_points: ints(interZps),
      output_scale: { type: 'float', value: outQ.scale },
      output_zero_point: { type: 'int', value: outQ.zeroPoint },
    },
    'nnport',
  );
  n.doc = `TFLite integer UNIDIRECTIONAL_SEQUENCE_LSTM: ${STATE_NOTE}`;
}

// ---- writing them back to TFLite ----

/**
 * A tensor of the op with the quantization the node carries: its raw integer operands have no QDQ
 * to give it, and the writer's pass-through guess (an op's output grid on its input) is wrong here.
 */
function quantized(c: WriteContext, name: string, scale: number, zeroPoint: number): string {
  const t = c.tensor(name);
  const info = c.info(t);
  if (info.dtype !== 'float32') info.quant = { scale: [scale], zeroPoint: [zeroPoint] };
  return t;
}

/** A state input written as TFLite's variable tensor: no buffer (the interpreter resets it), is_variable set. */
function variable(c: WriteContext, name: string, scale?: number, zeroPoint?: number): string {
  const t = scale === undefined ? c.tensor(name) : quantized(c, name, scale, zeroPoint ?? 0);
  const info = c.info(t);
  info.data = undefined;
  info.variable = true;
  return t;
}

const ACTIVATION_CODES: Record<string, ActivationFunctionType> = Object.fromEntries(Object.entries(ACTIVATION_NAMES).map(([k, v]) => [v!, Number(k) as ActivationFunctionType]));

/** nnport.Svdf -> SVDF. */
export function writeSvdf(n: Node, c: WriteContext): void {
  const rank = attrInt(n, 'rank', 1);
  const act = ACTIVATION_CODES[attrString(n, 'activation', 'NONE')] ?? ActivationFunctionType.NONE;
  const [x, wf, wt, bias, state] = n.inputs as [string, string, string, string, string];
  const q = 'input_scale' in n.attrs;
  const f = (k: string) => attrFloat(n, k, 0);
  const i = (k: string) => attrInt(n, k, 0);
  const inputs = q
    ? [
        quantized(c, x, f('input_scale'), i('input_zero_point')),
        quantized(c, wf, f('weights_feature_scale'), 0),
        quantized(c, wt, f('weights_time_scale'), 0),
        bias ? quantized(c, bias, f('bias_scale'), 0) : '',
        variable(c, state, f('state_scale'), i('state_zero_point')),
      ]
    : [c.tensor(x), c.tensor(wf), c.tensor(wt), bias ? c.tensor(bias) : '', variable(c, state)];
  const y = q ? quantized(c, n.outputs[0]!, f('output_scale'), i('output_zero_point')) : c.tensor(n.outputs[0]!);
  c.emit({ code: BuiltinOperator.SVDF, inputs, outputs: [y], options: (b) => [BuiltinOptions.SVDFOptions, SVDFOptions.createSVDFOptions(b, rank, act, false)] });
}

/** nnport.QuantizedLstm -> UNIDIRECTIONAL_SEQUENCE_LSTM (the integer kernel: 5 intermediates). */
export function writeQuantizedLstm(n: Node, c: WriteContext): void {
  const scales = attrFloats(n, 'scales') ?? [];
  const zps = attrInts(n, 'zero_points') ?? [];
  const interScales = attrFloats(n, 'intermediate_scales') ?? [];
  const interZps = attrInts(n, 'intermediate_zero_points') ?? [];
  const inputs = n.inputs.map((name, k) => {
    if (!name) return '';
    return k === 18 || k === 19 ? variable(c, name, scales[k]!, zps[k]!) : quantized(c, name, scales[k]!, zps[k]!);
  });
  const out = n.outputs[0]!;
  const y = quantized(c, out, attrFloat(n, 'output_scale', 0), attrInt(n, 'output_zero_point', 0));
  // without layer norm the gate intermediates only hold a place (the kernel puts the gates on 2^-12)
  const layerNorm = !!n.inputs[21];
  const intermediates = ['input', 'forget', 'cell', 'output'].map((g, k) =>
    c.addTensor(`${out}_${g}_intermediate`, layerNorm ? { name: '', dtype: 'int16', shape: [0], quant: { scale: [interScales[k]!], zeroPoint: [interZps[k]!] } } : { name: '', dtype: 'float32', shape: [0] }),
  );
  intermediates.push(c.addTensor(`${out}_hidden_intermediate`, { name: '', dtype: 'int8', shape: [0], quant: { scale: [interScales[4]!], zeroPoint: [interZps[4]!] } }));
  const act = ACTIVATION_CODES[attrString(n, 'activation', 'TANH')] ?? ActivationFunctionType.TANH;
  c.emit({
    code: BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM,
    inputs,
    outputs: [y],
    intermediates,
    options: (b) => [BuiltinOptions.UnidirectionalSequenceLSTMOptions, UnidirectionalSequenceLSTMOptions.createUnidirectionalSequenceLSTMOptions(b, act, attrFloat(n, 'cell_clip', 0), attrFloat(n, 'proj_clip', 0), attrInt(n, 'time_major', 0) !== 0, false, false)],
  });
}

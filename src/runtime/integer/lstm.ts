// nnport::QuantizedLstm — TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM with int8 input / output state,
// int16 cell state and int8 weights (the "8x8_16" integer kernel of lstm_eval.cc), as one
// invocation of the interpreter computes it from the states it is given. Inputs are the op's 24
// tensors in TFLite's order (raw integers; '' for an absent optional one); quantization rides in
// attributes: `scales` / `zero_points` per input index, `intermediate_scales` /
// `intermediate_zero_points` (the op's 5 intermediates: gate scales with layer norm, then the
// hidden state's), `output_scale` / `output_zero_point`.
//   gates: W·x and R·h each requantized onto the gate's int16 grid (2^-12 without layer norm),
//     the input zero point folded into the bias, peepholes added, saturating; with layer norm the
//     row normalized in integers (mean and variance in 2^10 steps, gemmlowp's inverse square root),
//     scaled by the coefficients, biased, back on Q3.12; sigmoid / tanh as gemmlowp's 16-bit
//     fixed-point functions (F3 in, Q0.15 out);
//   cell: c = f·c >> 15 + i·g >> (30 + log2 cell scale), saturating, clipped;
//   hidden: o · tanh(c) requantized to int8 (its zero point subtracted, as TFLite does), then the
//     optional projection.
// The float runtime runs the dequantized LSTM instead (float gates, float state).
import { QuantizationError, ShapeError, UnsupportedError } from '../../ir/errors.js';
import { LSTM_INPUT, statefulDefs, type QuantizedLstmAttrs } from '../../ir/ops/stateful.js';
import { Tensor } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { need } from '../ops/args.js';
import { clampInt, multiplyByQuantizedMultiplier, quantizeMultiplier, roundHalfAway, roundingDivideByPOT, saturatingRoundingDoublingHighMul, type QuantizedMultiplier } from './fixed-point.js';
import { gemmlowpLogistic16, gemmlowpTanh16 } from './fixed-point16.js';


interface Sizes {
  batch: number;
  time: number;
  nInput: number;
  nCell: number;
  nOutput: number;
  cifg: boolean;
  peephole: boolean;
  projection: boolean;
  layerNorm: boolean;
}

const ints = (t: Tensor | undefined): ArrayLike<number> | undefined => (t ? (t.data as ArrayLike<number>) : undefined);

/** A state's values for `batch` rows of `n`: as given, or its one row repeated over the batch. */
function stateRows<T extends Int8Array | Int16Array | Float64Array>(Arr: { from(a: ArrayLike<number>): T; new (n: number): T }, data: ArrayLike<number>, batch: number, n: number): T {
  if (data.length === batch * n) return Arr.from(data);
  const out = new Arr(batch * n);
  const row = Arr.from(data);
  for (let b = 0; b < batch; b++) out.set(row, b * n);
  return out;
}

/** Checks the operands against each other (TFLite's CheckInputTensorDimensions) and returns the sizes. */
function lstmSizes(node: string, inputs: ReadonlyArray<Tensor | undefined>, timeMajor: boolean): Sizes {
  const I = LSTM_INPUT;
  const where = `QuantizedLstm '${node}'`;
  const x = need(inputs, I.input, 'input');
  if (x.rank !== 3) throw new ShapeError(`${where}: input [${x.shape}] must be 3-D`);
  const [d0, d1, nInput] = x.shape as [number, number, number];
  const [time, batch] = timeMajor ? [d0, d1] : [d1, d0];
  const wf = need(inputs, I.inputToForget, 'input_to_forget_weights');
  const nCell = wf.shape[0]!;
  const rf = need(inputs, I.recurrentToForget, 'recurrent_to_forget_weights');
  const nOutput = rf.shape[1]!;
  const cifg = !inputs[I.inputToInput];
  const expect2 = (i: number, rows: number, cols: number, what: string) => {
    const t = inputs[i];
    if (t && (t.rank !== 2 || t.shape[0] !== rows || t.shape[1] !== cols)) throw new ShapeError(`${where}: ${what} [${t.shape}] must be [${rows}, ${cols}]`);
  };
  const expect1 = (i: number, n: number, what: string) => {
    const t = inputs[i];
    if (t && (t.rank !== 1 || t.shape[0] !== n)) throw new ShapeError(`${where}: ${what} [${t.shape}] must be [${n}]`);
  };
  for (const [i, what] of [[I.inputToInput, 'input_to_input_weights'], [I.inputToForget, 'input_to_forget_weights'], [I.inputToCell, 'input_to_cell_weights'], [I.inputToOutput, 'input_to_output_weights']] as const) expect2(i, nCell, nInput, what);
  for (const [i, what] of [[I.recurrentToInput, 'recurrent_to_input_weights'], [I.recurrentToForget, 'recurrent_to_forget_weights'], [I.recurrentToCell, 'recurrent_to_cell_weights'], [I.recurrentToOutput, 'recurrent_to_output_weights']] as const) expect2(i, nCell, nOutput, what);
  for (const i of [I.cellToInput, I.cellToForget, I.cellToOutput, I.inputGateBias, I.forgetGateBias, I.cellGateBias, I.outputGateBias, I.inputLayerNorm, I.forgetLayerNorm, I.cellLayerNorm, I.outputLayerNorm]) expect1(i, nCell, `input ${i}`);
  expect2(I.projectionWeights, nOutput, nCell, 'projection_weights');
  expect1(I.projectionBias, nOutput, 'projection_bias');
  if (cifg !== !inputs[I.recurrentToInput]) throw new ShapeError(`${where}: input_to_input and recurrent_to_input weights must both be given or both absent (CIFG)`);
  for (const i of [I.inputToCell, I.inputToOutput, I.recurrentToCell, I.recurrentToOutput, I.forgetGateBias, I.cellGateBias, I.outputGateBias]) need(inputs, i, `input ${i}`);
  const hs = need(inputs, I.outputState, 'output_state');
  const cs = need(inputs, I.cellState, 'cell_state');
  // one row of each state stands for every batch row (a dynamic batch: the reader's initial states)
  if (hs.size !== batch * nOutput && hs.size !== nOutput) throw new ShapeError(`${where}: output_state [${hs.shape}] must hold ${batch}·${nOutput} values (or one row of ${nOutput})`);
  if (cs.size !== batch * nCell && cs.size !== nCell) throw new ShapeError(`${where}: cell_state [${cs.shape}] must hold ${batch}·${nCell} values (or one row of ${nCell})`);
  return { batch, time, nInput, nCell, nOutput, cifg, peephole: !!inputs[I.cellToOutput], projection: !!inputs[I.projectionWeights], layerNorm: !!inputs[I.forgetLayerNorm] };
}

/** One gate's constants: weights, the bias with the input / state zero points folded in, multipliers. */
interface GateSetup {
  wx: ArrayLike<number>;
  wh: ArrayLike<number>;
  biasX: Int32Array;
  biasH: Int32Array;
  mx: QuantizedMultiplier;
  mh: QuantizedMultiplier;
  peephole?: ArrayLike<number>;
  mc?: QuantizedMultiplier;
  /** layer norm: coefficients, the gate bias (added after normalizing), scale, variance floor */
  norm?: { w: ArrayLike<number>; bias: ArrayLike<number>; m: QuantizedMultiplier; guard: number };
}

const f32 = Math.fround;

/** bias + zp·(row sums of w) as TFLite's PrecomputeZeroPointTimesWeightWithBias (int32, wrapping). */
function foldZeroPoint(w: ArrayLike<number>, rows: number, cols: number, zp: number, bias: ArrayLike<number> | undefined): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c]!;
    out[r] = ((bias ? bias[r]! : 0) + zp * s) | 0;
  }
  return out;
}

/** W·v + bias requantized and accumulated into the int16 `acc` with saturation (MatrixBatchVectorMultiplyAccumulate). */
function accumulate(acc: Int16Array, w: ArrayLike<number>, v: ArrayLike<number>, vOff: number, cols: number, bias: Int32Array, m: QuantizedMultiplier, zp = 0, lo = -32768, hi = 32767): void {
  for (let r = 0; r < acc.length; r++) {
    let s = bias[r]!;
    for (let c = 0; c < cols; c++) s += v[vOff + c]! * w[r * cols + c]!;
    acc[r] = clampInt(multiplyByQuantizedMultiplier(s | 0, m.multiplier, m.shift) + zp + acc[r]!, lo, hi);
  }
}

const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;

/** gemmlowp's SaturatingRoundingMultiplyByPOT<exponent> on int32, exponent > 0. */
function saturatingShiftLeft32(x: number, exponent: number): number {
  const threshold = 2 ** (31 - exponent) - 1;
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return x * 2 ** exponent;
}

/**
 * GetInvSqrtQuantizedMultiplierExp (TFLite common.h): 1/sqrt(input) as a Q31 multiplier and a
 * shift, by 5 Newton-Raphson steps in gemmlowp's F3 int32 fixed point; reverse_shift -1.
 */
export function invSqrtQuantizedMultiplier(input: number): QuantizedMultiplier {
  if (input <= 1) return { multiplier: INT32_MAX, shift: 0 };
  let shift = 11;
  while (input >= 1 << 29) {
    input = Math.trunc(input / 4);
    shift++;
  }
  const leftShiftBitPairs = Math.trunc((Math.clz32(input) - 1) / 2) - 1;
  shift -= leftShiftBitPairs;
  input = input << (2 * leftShiftBitPairs);
  // F3 raws: One = 2^28; F3·F3 is F6 and F6·F3 is F9, rescaled to F3 by saturating left shifts
  const srdhm = saturatingRoundingDoublingHighMul;
  const fxInput = input >> 1;
  const halfInput = roundingDivideByPOT(fxInput, 1);
  const halfThree = (1 << 28) + (1 << 27);
  let x = 1 << 28;
  for (let i = 0; i < 5; i++) {
    const x3 = saturatingShiftLeft32(srdhm(srdhm(x, x), x), 6);
    x = saturatingShiftLeft32((srdhm(halfThree, x) - srdhm(halfInput, x3)) | 0, 3);
  }
  let multiplier = srdhm(x, 1518500250);
  if (shift < 0) {
    multiplier = multiplier << -shift;
    shift = 0;
  }
  return { multiplier, shift: -shift };
}

/** TFLite's integer layer norm of one gate row (PortableApplyLayerNorm), in place. */
function layerNorm(row: Int16Array, norm: NonNullable<GateSetup['norm']>): void {
  const n = row.length;
  let sum = 0;
  let sumSq = 0;
  for (let j = 0; j < n; j++) {
    sum += row[j]!;
    sumSq += row[j]! * row[j]!;
  }
  const mean = Math.trunc((sum * 1024) / n);
  const temp = Math.trunc(2 ** 20 / n);
  // |sumSq·temp| and mean² stay below 2^51: exact in doubles
  let variance = Math.trunc((sumSq * temp - mean * mean) / 2 ** 20);
  if (variance < 1) variance = norm.guard;
  const inv = invSqrtQuantizedMultiplier(variance);
  for (let j = 0; j < n; j++) {
    const shifted = (1024 * row[j]! - mean) | 0;
    const rescaled = multiplyByQuantizedMultiplier(shifted, inv.multiplier, inv.shift);
    // int32 arithmetic in C (the product may wrap), then widened
    const v3 = (Math.imul(rescaled, norm.w[j]!) + norm.bias[j]!) | 0;
    const v4 = Math.trunc((v3 > 0 ? v3 + 512 : v3 - 512) / 1024);
    row[j] = clampInt(multiplyByQuantizedMultiplier(v4, norm.m.multiplier, norm.m.shift + 12), -32768, 32767);
  }
}

/** The integer LSTM (TFLite's EvalInteger8x8_16). */
export function quantizedLstmInteger(inputs: ReadonlyArray<Tensor | undefined>, a: QuantizedLstmAttrs, node: string): Tensor {
  const I = LSTM_INPUT;
  const where = `integer QuantizedLstm '${node}'`;
  const d = lstmSizes(node, inputs, a.timeMajor);
  const x = need(inputs, I.input, 'input');
  if (x.dtype !== 'int8') throw new UnsupportedError(`${where} of ${x.dtype} input`, 'int8 expected');
  const cellState = need(inputs, I.cellState, 'cell_state');
  const outputState = need(inputs, I.outputState, 'output_state');
  if (cellState.dtype !== 'int16' || outputState.dtype !== 'int8') throw new UnsupportedError(`${where} with ${cellState.dtype} cell state and ${outputState.dtype} output state`, 'TFLite runs int16 and int8');
  const s = a.scales;
  const zp = a.zeroPoints;
  // CheckedLog2: the cell state's scale must be a power of two
  const log2 = Math.log(f32(s[I.cellState]!)) / Math.log(2);
  const cellScale = Math.round(log2);
  if (Math.abs(log2 - cellScale) > 1e-3 || cellScale > -9) throw new QuantizationError(`${where}: cell state scale ${s[I.cellState]} must be a power of two at most 2^-9`);
  // tanh of the cell state reads it with 15 + log2(scale) integer bits
  const tanhBits = 15 + cellScale;
  if (tanhBits > 4) throw new UnsupportedError(`${where} with cell state scale 2^${cellScale}`, 'nnport runs cell scales up to 2^-11');
  // the gates' int16 grids: the layer-norm intermediates', else Q3.12
  const gateScales = [0, 1, 2, 3].map((k) => (d.layerNorm ? a.intermediateScales[k]! : 2 ** -12));
  const inputScale = s[I.input]!;
  const hScale = s[I.outputState]!;
  const hiddenScale = a.intermediateScales[4]!;
  const hiddenZp = a.intermediateZeroPoints[4]!;
  // the effective scales in float32, as TFLite's Prepare computes them
  const gate = (k: number, wi: number, ri: number, ci: number, bi: number, li: number): GateSetup => {
    const gateScale = gateScales[k]!;
    const eff = (w: number, of: number) => quantizeMultiplier(f32(f32(s[w]! * of) / gateScale));
    const wx = ints(inputs[wi])!;
    const wh = ints(inputs[ri])!;
    const peephole = d.peephole ? ints(inputs[ci]) : undefined;
    const bias = ints(inputs[bi]);
    return {
      wx,
      wh,
      // with layer norm the gate bias is added after normalizing
      biasX: foldZeroPoint(wx, d.nCell, d.nInput, -zp[I.input]!, d.layerNorm ? undefined : bias),
      biasH: foldZeroPoint(wh, d.nCell, d.nOutput, -zp[I.outputState]!, undefined),
      mx: eff(wi, inputScale),
      mh: eff(ri, hScale),
      peephole,
      mc: peephole ? quantizeMultiplier(f32((2 ** cellScale * s[ci]!) / gateScale)) : undefined,
      norm: d.layerNorm ? { w: ints(inputs[li])!, bias: bias!, m: quantizeMultiplier(s[li]!), guard: Math.max(1, Math.trunc(f32(10000 * s[li]!))) } : undefined,
    };
  };
  const gates = {
    i: d.cifg ? undefined : gate(0, I.inputToInput, I.recurrentToInput, I.cellToInput, I.inputGateBias, I.inputLayerNorm),
    f: gate(1, I.inputToForget, I.recurrentToForget, I.cellToForget, I.forgetGateBias, I.forgetLayerNorm),
    g: gate(2, I.inputToCell, I.recurrentToCell, -1, I.cellGateBias, I.cellLayerNorm),
    o: gate(3, I.inputToOutput, I.recurrentToOutput, I.cellToOutput, I.outputGateBias, I.outputLayerNorm),
  };
  const mHidden = quantizeMultiplier(f32((2 ** -15 / hiddenScale) * 2 ** -15));
  const proj = d.projection
    ? { w: ints(inputs[I.projectionWeights])!, bias: foldZeroPoint(ints(inputs[I.projectionWeights])!, d.nOutput, d.nCell, hiddenZp, ints(inputs[I.projectionBias])), m: quantizeMultiplier(f32(f32(s[I.projectionWeights]! * hiddenScale) / hScale)) }
    : undefined;
  const cellClip = a.cellClip > 0 ? Math.trunc(Math.min(Math.max(f32(a.cellClip / f32(s[I.cellState]!)), -32768), 32767)) : 0;
  const projClip = a.projClip > 0 ? Math.trunc(Math.min(Math.max(f32(a.projClip / f32(a.outputScale)), -128), 127)) : 0;

  const xd = ints(x)!;
  const y = new Int8Array(d.batch * d.time * d.nOutput);
  const nc = d.nCell;
  const no = d.nOutput;
  const c = stateRows(Int16Array, ints(cellState)!, d.batch, nc);
  const h = stateRows(Int8Array, ints(outputState)!, d.batch, no);
  // one step over `nb` batch rows at once (time-major: the whole batch; batch-major: one row), as TFLite steps
  const step = (xOff: number, yOff: number, nb: number, cv: Int16Array, hv: Int8Array) => {
    const gate = () => new Int16Array(nb * nc);
    const runGate = (g: GateSetup, sigmoid: boolean): Int16Array => {
      const out = gate();
      for (let b = 0; b < nb; b++) {
        const row = out.subarray(b * nc, (b + 1) * nc);
        accumulate(row, g.wx, xd, xOff + b * d.nInput, d.nInput, g.biasX, g.mx);
        accumulate(row, g.wh, hv, b * no, no, g.biasH, g.mh);
      }
      // TFLite's peephole loop runs over n_output (not n_cell) values per batch row, flattened
      if (g.peephole) {
        for (let k = 0; k < nb * no; k++) out[k] = clampInt(multiplyByQuantizedMultiplier(g.peephole[k % no]! * cv[k]!, g.mc!.multiplier, g.mc!.shift) + out[k]!, -32768, 32767);
      }
      if (g.norm) for (let b = 0; b < nb; b++) layerNorm(out.subarray(b * nc, (b + 1) * nc), g.norm);
      for (let k = 0; k < out.length; k++) out[k] = sigmoid ? gemmlowpLogistic16(out[k]!) : gemmlowpTanh16(out[k]!, 3);
      return out;
    };
    const gi = gates.i ? runGate(gates.i, true) : undefined;
    const gf = runGate(gates.f, true);
    const gg = runGate(gates.g, a.activation === 'SIGMOID');
    // cell: int16 stores wrap as C's casts do, the sum saturates
    for (let k = 0; k < nb * nc; k++) {
      const kept = (roundingDivideByPOT(gf[k]! * cv[k]!, 15) << 16) >> 16;
      const input = gi ? gi[k]! : 32767 - gf[k]!;
      const update = (roundingDivideByPOT(input * gg[k]!, 30 + cellScale) << 16) >> 16;
      let v = clampInt(kept + update, -32768, 32767);
      if (cellClip > 0) v = clampInt(v, -cellClip, cellClip);
      cv[k] = v;
    }
    // the output gate's peephole reads the updated cell state
    const go = runGate(gates.o, true);
    const hidden = new Int8Array(nb * nc);
    for (let k = 0; k < nb * nc; k++) {
      const th = gemmlowpTanh16(cv[k]!, tanhBits);
      hidden[k] = clampInt(multiplyByQuantizedMultiplier(go[k]! * th, mHidden.multiplier, mHidden.shift) - hiddenZp, -128, 127);
    }
    if (proj) {
      for (let b = 0; b < nb; b++) {
        const acc = new Int16Array(no);
        accumulate(acc, proj.w, hidden, b * nc, nc, proj.bias, proj.m, zp[I.outputState]!, -128, 127);
        for (let r = 0; r < no; r++) hv[b * no + r] = projClip > 0 ? clampInt(acc[r]!, -projClip, projClip) : acc[r]!;
      }
    } else {
      hv.set(hidden.subarray(0, nb * no));
    }
    y.set(hv, yOff);
  };
  if (a.timeMajor) {
    for (let t = 0; t < d.time; t++) step(t * d.batch * d.nInput, t * d.batch * no, d.batch, c, h);
  } else {
    for (let b = 0; b < d.batch; b++) {
      for (let t = 0; t < d.time; t++) step((b * d.time + t) * d.nInput, (b * d.time + t) * no, 1, c.subarray(b * nc, (b + 1) * nc), h.subarray(b * no, (b + 1) * no));
    }
  }
  const shape = a.timeMajor ? [d.time, d.batch, d.nOutput] : [d.batch, d.time, d.nOutput];
  return new Tensor('int8', shape, y);
}

/** The dequantized LSTM in float: the model the integer file approximates; the result quantized onto the output's grid. */
export function quantizedLstmFloat(inputs: ReadonlyArray<Tensor | undefined>, a: QuantizedLstmAttrs, node: string): Tensor {
  const I = LSTM_INPUT;
  const d = lstmSizes(node, inputs, a.timeMajor);
  const deq = (i: number): Float64Array | undefined => {
    const t = inputs[i];
    if (!t) return undefined;
    const src = t.data as ArrayLike<number>;
    return Float64Array.from({ length: src.length }, (_, k) => (src[k]! - a.zeroPoints[i]!) * a.scales[i]!);
  };
  const w = Array.from({ length: 24 }, (_, i) => deq(i));
  w[I.cellState] = stateRows(Float64Array, w[I.cellState]!, d.batch, d.nCell);
  w[I.outputState] = stateRows(Float64Array, w[I.outputState]!, d.batch, d.nOutput);
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  const cellAct = a.activation === 'SIGMOID' ? sigmoid : Math.tanh;
  const x = w[I.input]!;
  const nc = d.nCell;
  const y = new Int8Array(d.batch * d.time * d.nOutput);
  // one gate's pre-activations; with layer norm normalized (TFLite's 1e-8 floor), scaled, then biased
  const gateOf = (wi: number, ri: number, ci: number, bi: number, li: number, xOff: number, h: Float64Array, c: Float64Array): Float64Array => {
    const v = new Float64Array(nc);
    for (let k = 0; k < nc; k++) {
      let s = d.layerNorm || !w[bi] ? 0 : w[bi]![k]!;
      for (let j = 0; j < d.nInput; j++) s += w[wi]![k * d.nInput + j]! * x[xOff + j]!;
      for (let j = 0; j < d.nOutput; j++) s += w[ri]![k * d.nOutput + j]! * h[j]!;
      if (ci >= 0 && w[ci]) s += w[ci]![k]! * c[k]!;
      v[k] = s;
    }
    if (d.layerNorm) {
      const mean = v.reduce((p, q) => p + q, 0) / nc;
      const variance = v.reduce((p, q) => p + (q - mean) ** 2, 0) / nc;
      const inv = 1 / Math.sqrt(variance + 1e-8);
      for (let k = 0; k < nc; k++) v[k] = (v[k]! - mean) * inv * w[li]![k]! + (w[bi] ? w[bi]![k]! : 0);
    }
    return v;
  };
  for (let b = 0; b < d.batch; b++) {
    const c = Float64Array.from({ length: nc }, (_, k) => w[I.cellState]![b * nc + k]!);
    let h = Float64Array.from({ length: d.nOutput }, (_, k) => w[I.outputState]![b * d.nOutput + k]!);
    for (let t = 0; t < d.time; t++) {
      const step = a.timeMajor ? t * d.batch + b : b * d.time + t;
      const xOff = step * d.nInput;
      const hidden = new Float64Array(nc);
      const next = new Float64Array(nc);
      const fv = gateOf(I.inputToForget, I.recurrentToForget, I.cellToForget, I.forgetGateBias, I.forgetLayerNorm, xOff, h, c);
      const iv = d.cifg ? undefined : gateOf(I.inputToInput, I.recurrentToInput, I.cellToInput, I.inputGateBias, I.inputLayerNorm, xOff, h, c);
      const gv = gateOf(I.inputToCell, I.recurrentToCell, -1, I.cellGateBias, I.cellLayerNorm, xOff, h, c);
      for (let k = 0; k < nc; k++) {
        const f = sigmoid(fv[k]!);
        const i = iv ? sigmoid(iv[k]!) : 1 - f;
        let v = f * c[k]! + i * cellAct(gv[k]!);
        if (a.cellClip > 0) v = Math.min(a.cellClip, Math.max(-a.cellClip, v));
        next[k] = v;
      }
      // the output gate's peephole reads the new cell state
      const ov = gateOf(I.inputToOutput, I.recurrentToOutput, I.cellToOutput, I.outputGateBias, I.outputLayerNorm, xOff, h, next);
      for (let k = 0; k < nc; k++) hidden[k] = sigmoid(ov[k]!) * Math.tanh(next[k]!);
      c.set(next);
      if (d.projection) {
        const p = new Float64Array(d.nOutput);
        for (let r = 0; r < d.nOutput; r++) {
          let v = w[I.projectionBias] ? w[I.projectionBias]![r]! : 0;
          for (let k = 0; k < nc; k++) v += w[I.projectionWeights]![r * nc + k]! * hidden[k]!;
          p[r] = a.projClip > 0 ? Math.min(a.projClip, Math.max(-a.projClip, v)) : v;
        }
        h = p;
      } else {
        h = hidden.slice(0, d.nOutput);
      }
      for (let r = 0; r < d.nOutput; r++) y[step * d.nOutput + r] = clampInt(roundHalfAway(h[r]! / a.outputScale) + a.outputZeroPoint, -128, 127);
    }
  }
  return new Tensor('int8', a.timeMajor ? [d.time, d.batch, d.nOutput] : [d.batch, d.time, d.nOutput], y);
}

/** The float runtime's kernel: the dequantized LSTM. */
export const QUANTIZED_LSTM_FLOAT_OPS: OpTable = {
  'nnport::QuantizedLstm': defineOp<QuantizedLstmAttrs>({
    attrs: statefulDefs['nnport::QuantizedLstm'].attrs,
    run: (inputs, a, ctx) => [quantizedLstmFloat(inputs, a, ctx.node.name)],
  }),
};

/** The integer runtime's kernel: TFLite's integer LSTM arithmetic. */
export const QUANTIZED_LSTM_INTEGER_OPS: OpTable = {
  'nnport::QuantizedLstm': defineOp<QuantizedLstmAttrs>({
    attrs: statefulDefs['nnport::QuantizedLstm'].attrs,
    run: (inputs, a, ctx) => [quantizedLstmInteger(inputs, a, ctx.node.name)],
  }),
};

// Full-integer (int8) quantization of ONNX LSTMs into TFLite's integer UNIDIRECTIONAL_SEQUENCE_LSTM
// (the 8x8_16 kernel of lstm_eval.cc): one nnport::QuantizedLstm per LSTM, as TF's converter
// quantizes a Keras LSTM given a representative dataset:
//   - input: the int8 parameters the calibration gave the LSTM's input value;
//   - weights: int8, symmetric, one scale per tensor (max |w| / 127), per gate;
//   - gate biases: int32 on input scale · that gate's input-weight scale (the kernel adds them to
//     W·x before rescaling it onto the gate's Q3.12 grid); ONNX's Wb + Rb summed;
//   - hidden state = output = the hidden intermediate: int8, symmetric (zero point 0), max |h| / 127
//     (the kernel copies the int8 hidden state to the output when there is no projection);
//   - cell state: int16, symmetric, a power-of-two scale 2^pot / 32768 with 2^pot the smallest power
//     of two (pot >= 0) covering max |c| (TF's GetPowerOfTwoScale; the kernel shifts by log2 of it);
//   - the 4 gate intermediates only hold a place without layer norm (the gates sit on 2^-12).
// The ranges of h and c are measured on the calibration samples: the LSTM's input is observed
// during calibration and the float recurrence run on it here (ONNX's formulas, zero initial states).
// A reverse direction runs over the reversed sequence (a Slice with step -1 on both sides: TFLite's
// STRIDED_SLICE), as the float writer's REVERSE_V2s; a bidirectional LSTM is two ops on one hidden
// grid (max |h| over both) whose sequences are joined on the direction axis (CONCATENATION).
// Y_h is each op's last step (a Slice of the int8 sequence). Not covered, refused by name:
// peepholes, CIFG (input_forget), clip, activations other than sigmoid / tanh / tanh, non-zero
// initial states, sequence_lens, a used Y_c.
import { QuantizationError, UnsupportedError } from '../ir/errors.js';
import { producersOf, readersOf, type Attr, type Graph, type Node } from '../ir/graph.js';
import { parseRecurrentAttrs, type RecurrentAttrs } from '../ir/ops/recurrent.js';
import { LSTM_INPUT } from '../ir/ops/stateful.js';
import { Tensor } from '../ir/tensor.js';

const isLstm = (n: Node): boolean => (n.domain === '' || n.domain === 'ai.onnx') && n.opType === 'LSTM';

interface Direction {
  W: Float32Array;
  R: Float32Array;
  /** Wb + Rb per gate row [4H] (ONNX order i, o, f, c) */
  B: Float32Array;
  reverse: boolean;
  maxC: number;
}

interface LstmPlan {
  node: Node;
  a: RecurrentAttrs;
  H: number;
  I: number;
  /** per direction (a reverse one runs over the reversed sequence) */
  dirs: Direction[];
  /** max |h| over both directions: they share the output's grid (TFLite's PACK / CONCATENATION takes one) */
  maxH: number;
  samples: number;
  /** Y_h is read (by a node or as a graph output) */
  yhUsed: boolean;
  /** the batch and sequence length of the calibration inputs (TFLite's state tensors are [batch, hidden]; Y_h slices the last step) */
  batch?: number;
  time?: number;
}

/** Integer LSTM quantization: calibration hooks and the rewrite of the quantized graph. */
export interface LstmInt8 {
  /** the LSTMs' inputs: observed during calibration */
  needed: ReadonlySet<string>;
  observe: (name: string, t: Tensor) => void;
  /** after calibration: the int8 parameters of each LSTM's output Y (its hidden state's) */
  outputParams: () => Map<string, { scale: number; zeroPoint: number }>;
  /** the QDQ graph with every LSTM replaced by nnport::QuantizedLstm on the integer values around it */
  rewrite: (g: Graph) => Graph;
}

const where = (n: Node): string => `node '${n.name}'`;

function constant(g: Graph, n: Node, i: number, what: string): Tensor | undefined {
  const name = n.inputs[i];
  if (!name) return undefined;
  const t = g.initializers.get(name);
  if (!t) throw new UnsupportedError(`LSTM with computed ${what} under --quantize int8`, `${where(n)}: the ${what} must be constants`);
  return t;
}

/** The checks: what TFLite's integer LSTM (as nnport writes it) cannot compute is refused by name. */
function planOf(g: Graph, n: Node, readers: Map<string, Node[]>): LstmPlan {
  const a = parseRecurrentAttrs(n, 'LSTM');
  const label = `LSTM '${n.name}'`;
  const refuse = (what: string, why: string): never => {
    throw new UnsupportedError(`LSTM ${what} under --quantize int8`, `${label}: ${why}`);
  };
  if (a.clip !== undefined) refuse('clip', "ONNX's clip bounds the gates' pre-activations; TFLite's kernel has no such bound");
  if (a.inputForget) refuse('input_forget (CIFG)', 'not covered by nnport\'s integer LSTM quantization');
  for (const d of a.activations) {
    const acts = d.map((f) => f.name);
    if (acts.join() !== 'Sigmoid,Tanh,Tanh') refuse(`activations ${acts.join(', ')}`, "TFLite's integer LSTM computes sigmoid gates and tanh");
  }
  if (n.inputs[7]) refuse('peepholes (P)', 'not covered by nnport\'s integer LSTM quantization');
  if (n.outputs[2] && (readers.get(n.outputs[2])?.length || g.outputs.some((o) => o.name === n.outputs[2]))) refuse('Y_c output', "TFLite's integer LSTM does not output its cell state");
  if (!n.outputs[0]) refuse('without a Y output', 'nothing to write');
  const W = constant(g, n, 1, 'input weights (W)')!;
  const R = constant(g, n, 2, 'recurrent weights (R)')!;
  const Bt = constant(g, n, 3, 'biases (B)');
  const H = R.shape[2]!;
  const I = W.shape[2]!;
  if (n.inputs[4]) refuse('sequence_lens', "TFLite's LSTM has no per-sequence length");
  for (const i of [5, 6]) {
    const s = constant(g, n, i, i === 5 ? 'initial hidden state' : 'initial cell state');
    if (s && s.toNumbers().some((v) => v !== 0)) refuse(`with a non-zero initial ${i === 5 ? 'hidden' : 'cell'} state`, "TFLite's state tensors start at zero");
  }
  const [wf, rf, bf] = [W.toFloat32(), R.toFloat32(), Bt?.toFloat32()];
  const dirs = Array.from({ length: a.numDirections }, (_, d): Direction => {
    const B = new Float32Array(4 * H);
    if (bf) for (let k = 0; k < 4 * H; k++) B[k] = bf[d * 8 * H + k]! + bf[d * 8 * H + 4 * H + k]!;
    return { W: wf.subarray(d * 4 * H * I, (d + 1) * 4 * H * I), R: rf.subarray(d * 4 * H * H, (d + 1) * 4 * H * H), B, reverse: a.direction === 'reverse' || d === 1, maxC: 0 };
  });
  const yhUsed = !!n.outputs[1] && (!!readers.get(n.outputs[1])?.length || g.outputs.some((o) => o.name === n.outputs[1]));
  return { node: n, a, H, I, dirs, maxH: 0, samples: 0, yhUsed };
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** The float recurrence over one input X (ONNX's LSTM, zero initial states): max |c| and max |h|. */
function observeRanges(p: LstmPlan, x: Tensor): void {
  const { H, I } = p;
  if (x.rank !== 3 || x.shape[2] !== I) throw new QuantizationError(`LSTM '${p.node.name}': calibration input [${x.shape.join(', ')}] is not [.., .., ${I}]`);
  const xd = x.toFloat32();
  const [T, Bn] = p.a.layout === 0 ? [x.shape[0]!, x.shape[1]!] : [x.shape[1]!, x.shape[0]!];
  if (p.batch !== undefined && p.batch !== Bn) throw new QuantizationError(`LSTM '${p.node.name}': calibration inputs of batch ${p.batch} and ${Bn}; TFLite's LSTM state has one batch size`);
  p.batch = Bn;
  p.time = T;
  const z = new Float64Array(4 * H);
  for (const dir of p.dirs) {
    const { W, R, B } = dir;
    for (let b = 0; b < Bn; b++) {
      const h = new Float64Array(H);
      const c = new Float64Array(H);
      for (let step = 0; step < T; step++) {
        const t = dir.reverse ? T - 1 - step : step;
        const off = (p.a.layout === 0 ? t * Bn + b : b * T + t) * I;
        for (let r = 0; r < 4 * H; r++) {
          let s = B[r]!;
          for (let j = 0; j < I; j++) s += W[r * I + j]! * xd[off + j]!;
          for (let j = 0; j < H; j++) s += R[r * H + j]! * h[j]!;
          z[r] = s;
        }
        // ONNX gate rows: i, o, f, c
        for (let k = 0; k < H; k++) {
          const i = sigmoid(z[k]!);
          const o = sigmoid(z[H + k]!);
          const f = sigmoid(z[2 * H + k]!);
          const g = Math.tanh(z[3 * H + k]!);
          c[k] = f * c[k]! + i * g;
          if (p.a.cellClip !== undefined) c[k] = Math.min(p.a.cellClip, Math.max(-p.a.cellClip, c[k]!));
          h[k] = o * Math.tanh(c[k]!);
          dir.maxC = Math.max(dir.maxC, Math.abs(c[k]!));
          p.maxH = Math.max(p.maxH, Math.abs(h[k]!));
        }
      }
    }
  }
  p.samples++;
}

/** Symmetric int8, one scale (max |w| / 127), rounded half away from zero, narrow range. */
function symmetricInt8(w: Float32Array, rows: number, cols: number, r0: number): { q: Tensor; scale: number } {
  const src = w.subarray(r0 * cols, (r0 + rows) * cols);
  let max = 0;
  for (const v of src) max = Math.max(max, Math.abs(v));
  const scale = max > 0 ? max / 127 : 1;
  const q = Int8Array.from(src, (v) => Math.max(-127, Math.min(127, Math.sign(v) * Math.round(Math.abs(v) / scale))));
  return { q: new Tensor('int8', [rows, cols], q), scale };
}

/** The smallest power-of-two cell-state scale 2^pot / 32768 (pot >= 0) whose range covers max |c| (TF's GetPowerOfTwoScale). */
export function cellStateScale(maxC: number): number {
  let pot = 0;
  while (2 ** pot < maxC && pot < 10) pot++;
  return 2 ** (pot - 15);
}

/** The hook for toInt8: undefined when the graph has no LSTM (refuses the LSTMs it cannot quantize). */
export function lstmInt8(g: Graph): LstmInt8 | undefined {
  const lstms = g.nodes.filter(isLstm);
  if (!lstms.length) return undefined;
  const readers = readersOf(g.nodes);
  const plans = lstms.map((n) => planOf(g, n, readers));
  const byInput = new Map<string, LstmPlan[]>();
  for (const p of plans) byInput.set(p.node.inputs[0]!, [...(byInput.get(p.node.inputs[0]!) ?? []), p]);
  const hidden = (p: LstmPlan) => ({ scale: Math.fround(Math.max(p.maxH, 1e-6) / 127), zeroPoint: 0 });
  return {
    needed: new Set(byInput.keys()),
    observe(name, t) {
      for (const p of byInput.get(name) ?? []) observeRanges(p, t);
    },
    outputParams() {
      const out = new Map<string, { scale: number; zeroPoint: number }>();
      for (const p of plans) {
        if (!p.samples) throw new QuantizationError(`LSTM '${p.node.name}': its input was never seen during calibration`);
        out.set(p.node.outputs[0]!, hidden(p));
        // Y_h: Y's last step, on the same grid
        if (p.node.outputs[1]) out.set(p.node.outputs[1], hidden(p));
      }
      return out;
    },
    rewrite(q) {
      return rewriteLstms(q, plans, hidden);
    },
  };
}

function rewriteLstms(g: Graph, plans: LstmPlan[], hidden: (p: LstmPlan) => { scale: number; zeroPoint: number }): Graph {
  const producer = producersOf(g.nodes);
  const readers = readersOf(g.nodes);
  const inits = new Map(g.initializers);
  const used = new Set<string>([...inits.keys(), ...g.inputs.map((v) => v.name), ...g.nodes.flatMap((n) => n.outputs)]);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  const drop = new Set<Node>();
  const replaced = new Map<Node, Node[]>();
  const scalar = (name: string) => inits.get(name)?.toNumbers()[0];
  for (const p of plans) {
    const n = g.nodes.find((k) => k.name === p.node.name && k.opType === 'LSTM');
    if (!n) throw new QuantizationError(`LSTM '${p.node.name}' is missing from the quantized graph`);
    const label = `LSTM '${n.name}'`;
    // X: the DequantizeLinear of an int8 value
    const dq = producer.get(n.inputs[0]!);
    if (!dq || dq.opType !== 'DequantizeLinear' || dq.domain) throw new QuantizationError(`${label}: its input is not a quantized (DequantizeLinear) value`);
    const xq = dq.inputs[0]!;
    const sx = scalar(dq.inputs[1]!);
    const zx = dq.inputs[2] ? scalar(dq.inputs[2]) : 0;
    if (sx === undefined || zx === undefined || inits.get(dq.inputs[1]!)!.size !== 1) throw new QuantizationError(`${label}: its input must be quantized per tensor`);
    // Y: float -> QuantizeLinear (its params: the hidden state's) -> int8
    const yFloat = n.outputs[0]!;
    const qs = readers.get(yFloat) ?? [];
    const qn = qs[0];
    if (qs.length !== 1 || qn!.opType !== 'QuantizeLinear' || qn!.domain) throw new QuantizationError(`${label}: its output Y is not quantized by one QuantizeLinear`);
    const h = hidden(p);
    const sy = scalar(qn!.inputs[1]!);
    if (sy === undefined || Math.fround(sy) !== h.scale) throw new QuantizationError(`${label}: Y's scale ${sy} is not its hidden state's ${h.scale}`);
    drop.add(qn!);
    // Y_h / Y_c (and their Q/DQ) dropped: Y_h, where read, is made below from the int8 sequences
    let yhQ: string | undefined;
    for (const [k, o] of n.outputs.entries()) {
      if (k === 0 || !o) continue;
      for (const r of readers.get(o) ?? []) {
        drop.add(r);
        if (k === 1 && p.yhUsed && r.opType === 'QuantizeLinear' && !r.domain) {
          yhQ = r.outputs[0]!;
          continue;
        }
        for (const r2 of readers.get(r.outputs[0]!) ?? []) drop.add(r2);
      }
    }
    const { H, I } = p;
    const T = p.time!;
    const tAxis = p.a.layout === 0 ? 0 : 1;
    const base = yFloat.replace(/_float$/, '');
    const out: Node[] = [];
    const int64s = (name: string, v: number[]) => {
      const k = fresh(name);
      inits.set(k, Tensor.int64([v.length], v));
      return k;
    };
    const node = (opType: string, inputs: string[], output: string, attrs: Record<string, Attr> = {}) => void out.push({ name: fresh(`${output}_${opType.toLowerCase()}`), opType, domain: '', inputs, outputs: [output], attrs });
    // the time axis reversed (a Slice with step -1: TFLite's STRIDED_SLICE on the int8 values)
    const reversed = (x: string, name: string) => {
      const y = fresh(name);
      node('Slice', [x, int64s(`${name}_starts`, [-1]), int64s(`${name}_ends`, [-(2 ** 62)]), int64s(`${name}_axes`, [tAxis]), int64s(`${name}_steps`, [-1])], y);
      return y;
    };
    const seqs: string[] = [];
    const lastSteps: string[] = [];
    p.dirs.forEach((dir, d) => {
      const dbase = p.dirs.length === 2 ? `${base}_${d === 0 ? 'forward' : 'backward'}` : base;
      const names = new Array<string>(24).fill('');
      const scales = new Array<number>(24).fill(0);
      const zps = new Array<number>(24).fill(0);
      names[LSTM_INPUT.input] = dir.reverse ? reversed(xq, `${dbase}_reversed_input`) : xq;
      scales[LSTM_INPUT.input] = sx;
      zps[LSTM_INPUT.input] = zx;
      // ONNX rows: i, o, f, c
      const onnxRow = { input: 0, output: 1, forget: 2, cell: 3 } as const;
      const slots = [
        ['input', LSTM_INPUT.inputToInput, LSTM_INPUT.recurrentToInput, LSTM_INPUT.inputGateBias],
        ['forget', LSTM_INPUT.inputToForget, LSTM_INPUT.recurrentToForget, LSTM_INPUT.forgetGateBias],
        ['cell', LSTM_INPUT.inputToCell, LSTM_INPUT.recurrentToCell, LSTM_INPUT.cellGateBias],
        ['output', LSTM_INPUT.inputToOutput, LSTM_INPUT.recurrentToOutput, LSTM_INPUT.outputGateBias],
      ] as const;
      for (const [gate, wi, ri, bi] of slots) {
        const r0 = onnxRow[gate] * H;
        const w = symmetricInt8(dir.W, H, I, r0);
        const r = symmetricInt8(dir.R, H, H, r0);
        const bScale = sx * w.scale;
        const bias = Int32Array.from(dir.B.subarray(r0, r0 + H), (v) => {
          const q = Math.sign(v) * Math.round(Math.abs(v) / bScale);
          if (!(Math.abs(q) <= 2147483647)) throw new QuantizationError(`${label}: the ${gate} gate bias ${v} does not fit int32 on scale ${bScale}`);
          return q;
        });
        names[wi] = fresh(`${dbase}_input_to_${gate}_weights`);
        inits.set(names[wi], w.q);
        scales[wi] = w.scale;
        names[ri] = fresh(`${dbase}_recurrent_to_${gate}_weights`);
        inits.set(names[ri], r.q);
        scales[ri] = r.scale;
        names[bi] = fresh(`${dbase}_${gate}_gate_bias`);
        inits.set(names[bi], new Tensor('int32', [H], bias));
        scales[bi] = bScale;
      }
      const batch = p.batch!;
      names[LSTM_INPUT.outputState] = fresh(`${dbase}_output_state`);
      inits.set(names[LSTM_INPUT.outputState], Tensor.zeros('int8', [batch, H]));
      scales[LSTM_INPUT.outputState] = h.scale;
      names[LSTM_INPUT.cellState] = fresh(`${dbase}_cell_state`);
      inits.set(names[LSTM_INPUT.cellState], Tensor.zeros('int16', [batch, H]));
      scales[LSTM_INPUT.cellState] = cellStateScale(dir.maxC);
      if (scales[LSTM_INPUT.cellState]! > 2 ** -11) {
        throw new QuantizationError(`${label}: its cell state reaches ${dir.maxC.toPrecision(3)} on the calibration samples; nnport's integer LSTM takes cell states within ±16 (a cell scale up to 2^-11)`);
      }
      const raw = fresh(`${dbase}_sequence`);
      const floats = (value: number[]): Attr => ({ type: 'floats', value });
      const ints = (value: number[]): Attr => ({ type: 'ints', value });
      out.push({
        name: fresh(`${n.name}_int8${p.dirs.length === 2 ? `_${d === 0 ? 'forward' : 'backward'}` : ''}`),
        opType: 'QuantizedLstm',
        domain: 'nnport',
        inputs: names,
        outputs: [raw],
        attrs: {
          time_major: { type: 'int', value: p.a.layout === 0 ? 1 : 0 },
          activation: { type: 'string', value: 'TANH' },
          // TFLite's cell_clip: the kernel bounds the int16 cell state at cell_clip / its scale
          cell_clip: { type: 'float', value: p.a.cellClip ?? 0 },
          proj_clip: { type: 'float', value: 0 },
          scales: floats(scales),
          zero_points: ints(zps),
          intermediate_scales: floats([2 ** -12, 2 ** -12, 2 ** -12, 2 ** -12, h.scale]),
          intermediate_zero_points: ints([0, 0, 0, 0, 0]),
          output_scale: { type: 'float', value: h.scale },
          output_zero_point: { type: 'int', value: 0 },
        },
        doc: `ONNX LSTM '${n.name}'${dir.reverse ? ' (reverse direction, over the reversed sequence)' : ''} quantized to TFLite's integer LSTM (8x8_16) on ${p.samples} calibration sample(s): max |h| ${p.maxH.toPrecision(4)}, max |c| ${dir.maxC.toPrecision(4)}`,
      });
      seqs.push(dir.reverse ? reversed(raw, `${dbase}_sequence_in_order`) : raw);
      // the op's last step: for a reverse direction the sequence's first, ONNX's Y_h
      if (yhQ) {
        const step = p.dirs.length === 1 ? yhQ : fresh(`${dbase}_last_step`);
        node('Slice', [raw, int64s(`${step}_starts`, [T - 1]), int64s(`${step}_ends`, [T]), int64s(`${step}_axes`, [tAxis])], step);
        lastSteps.push(step);
      }
    });
    // [T, B, H] (layout 1: [B, T, H]) per direction -> Y [T, D, B, H] (layout 1: [B, T, D, H]), still int8
    const dAxis = p.a.layout === 0 ? 1 : 2;
    if (seqs.length === 1) node('Unsqueeze', [seqs[0]!, int64s(`${base}_direction_axis`, [dAxis])], qn!.outputs[0]!);
    else {
      const parts = seqs.map((s0) => {
        const u = fresh(`${s0}_with_direction`);
        node('Unsqueeze', [s0, int64s(`${u}_axis`, [dAxis])], u);
        return u;
      });
      node('Concat', parts, qn!.outputs[0]!, { axis: { type: 'int', value: dAxis } });
    }
    // Y_h [D, B, H] (layout 1: [B, D, H]): the directions' last steps joined
    if (yhQ && lastSteps.length === 2) node('Concat', lastSteps, yhQ, { axis: { type: 'int', value: p.a.layout === 0 ? 0 : 1 } });
    replaced.set(n, out);
  }
  const nodes = g.nodes.filter((k) => !drop.has(k)).flatMap((k) => replaced.get(k) ?? [k]);
  // the LSTMs' float weights and whatever nothing reads any more
  const read = new Set([...nodes.flatMap((k) => k.inputs), ...g.outputs.map((o) => o.name)]);
  const liveNodes = nodes.filter((k) => k.opType !== 'DequantizeLinear' || k.domain || k.outputs.some((o) => read.has(o)));
  const stillRead = new Set([...liveNodes.flatMap((k) => k.inputs), ...g.outputs.map((o) => o.name)]);
  for (const k of [...inits.keys()]) if (!stillRead.has(k)) inits.delete(k);
  return { ...g, nodes: liveNodes, initializers: inits };
}


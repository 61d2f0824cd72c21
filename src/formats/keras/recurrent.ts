// Keras LSTM / GRU / SimpleRNN (and Bidirectional around one of them) -> one ONNX LSTM / GRU / RNN.
// Keras is batch-major ([B, T, features]); the op runs time-major between Transposes (layout 0,
// which every ONNX runtime has). Gate orders: Keras LSTM i f c o -> ONNX i o f c; GRU z r h is
// ONNX's; GRU reset_after is ONNX linear_before_reset with the input and recurrent biases as
// ONNX B's two halves.
import { FormatError, ShapeError, UnsupportedError } from '../../ir/errors.js';
import type { Attr } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { isObject, type JsonObject } from './config.js';
import { convLstmBidirectional, convRecurrentWeightRoles, isConvRecurrent } from './conv-recurrent.js';
import { activationName, int, ints, type IrEmitter, type KShape, type KValue, type LayerCall } from './layers.js';

type Op = 'LSTM' | 'GRU' | 'RNN';

const KIND: Record<string, { op: Op; gates: number; states: number; order: number[] }> = {
  // order[g]: the Keras gate block that is ONNX gate g
  LSTM: { op: 'LSTM', gates: 4, states: 2, order: [0, 3, 1, 2] },
  GRU: { op: 'GRU', gates: 3, states: 1, order: [0, 1, 2] },
  SimpleRNN: { op: 'RNN', gates: 1, states: 1, order: [0] },
};

/** The weight roles of a recurrent layer (with a `prefix` for Bidirectional's two layers). */
export function recurrentWeightRoles(className: string, cfg: JsonObject): string[] | undefined {
  if (className === 'Bidirectional') {
    const inner = innerLayer(cfg);
    const roles = inner && (recurrentWeightRoles(inner.className, inner.config) ?? convRecurrentWeightRoles(inner.className, inner.config));
    return roles && [...roles.map((r) => `forward/${r}`), ...roles.map((r) => `backward/${r}`)];
  }
  if (!KIND[className]) return undefined;
  return ['kernel', 'recurrent_kernel', ...(cfg.use_bias === false ? [] : ['bias'])];
}

function innerLayer(cfg: JsonObject): { className: string; config: JsonObject } | undefined {
  const l = cfg.layer;
  if (!isObject(l) || typeof l.class_name !== 'string' || !isObject(l.config)) return undefined;
  return { className: l.class_name, config: l.config };
}

/** An ONNX recurrent activation for a Keras one, with the alpha/beta it consumes. */
function onnxActivation(keras: string, call: LayerCall, keras3: boolean): { name: string; alpha: number[]; beta: number[] } {
  switch (keras) {
    case 'tanh':
      return { name: 'Tanh', alpha: [], beta: [] };
    case 'sigmoid':
      return { name: 'Sigmoid', alpha: [], beta: [] };
    case 'relu':
      return { name: 'Relu', alpha: [], beta: [] };
    case 'hard_sigmoid':
      // Keras 2 / TF.js: clip(0.2x + 0.5, 0, 1); Keras 3: relu6(x + 3) / 6
      return { name: 'HardSigmoid', alpha: [keras3 ? 1 / 6 : 0.2], beta: [0.5] };
    case 'linear':
      return { name: 'Affine', alpha: [1], beta: [0] };
    case 'softsign':
      return { name: 'Softsign', alpha: [], beta: [] };
    case 'softplus':
      return { name: 'Softplus', alpha: [], beta: [] };
    case 'elu':
      return { name: 'Elu', alpha: [1], beta: [] };
    default:
      throw new UnsupportedError(`Keras ${call.className} activation '${keras}'`, `layer '${call.name}'`);
  }
}

interface Direction {
  kernel: Tensor;
  recurrent: Tensor;
  bias?: Tensor;
}

function weight(call: LayerCall, role: string): Tensor {
  const t = call.weights.get(role);
  if (!t) throw new FormatError(`layer '${call.name}' (${call.className}) has no '${role}' weight`);
  if (t.dtype !== 'float32') throw new UnsupportedError(`${call.className} with ${t.dtype} weights`, `layer '${call.name}'`);
  return t;
}

/** Emit one recurrent layer (both directions for Bidirectional); returns the layer's outputs in Keras order. */
function emitRecurrent(e: IrEmitter, call: LayerCall, className: string, cfg: JsonObject, dirs: Direction[], merge: string | undefined): KValue[] {
  const kind = KIND[className];
  if (!kind) throw new UnsupportedError(`Keras ${call.className} around ${className}`, `layer '${call.name}'`);
  // (stateful: statefulRecurrent gives the states as inputs and clears the flag)
  for (const key of ['stateful', 'time_major'] as const) if (cfg[key] === true) throw new UnsupportedError(`Keras ${call.className === className ? className : `${call.className}(${className})`} with ${key}=True`, `layer '${call.name}'`);
  const units = cfg.units;
  if (typeof units !== 'number' || !Number.isInteger(units) || units < 1) throw new ShapeError(`layer '${call.name}' (${className}): units ${JSON.stringify(units)} is not a positive integer`);
  const U = units;
  const G = kind.gates;
  const nd = dirs.length;
  const x = call.inputs[0];
  if (!x || x.shape.length !== 3) throw new ShapeError(`layer '${call.name}' (${className}) needs a [batch, time, features] input`);
  const I = x.shape[2];
  if (typeof I !== 'number') throw new ShapeError(`layer '${call.name}' (${className}): the input's feature count is unknown`);
  const returnSequences = cfg.return_sequences === true;
  const returnState = cfg.return_state === true;
  const goBackwards = nd === 1 && cfg.go_backwards === true;
  const resetAfter = kind.op === 'GRU' && cfg.reset_after === true;

  // W [nd, G·U, I], R [nd, G·U, U], B [nd, 2·G·U]: rows per ONNX gate, from Keras' [in, G·U] columns
  const W = new Float32Array(nd * G * U * I);
  const R = new Float32Array(nd * G * U * U);
  const B = new Float32Array(nd * 2 * G * U);
  const hasBias = dirs.some((d) => d.bias);
  dirs.forEach((d, di) => {
    const check = (t: Tensor, shape: number[], what: string) => {
      if (t.rank !== shape.length || t.shape.some((s, i) => s !== shape[i])) throw new ShapeError(`layer '${call.name}' (${className}): ${what} has shape [${t.shape.join(', ')}], [${shape.join(', ')}] expected`);
    };
    check(d.kernel, [I, G * U], 'kernel');
    check(d.recurrent, [U, G * U], 'recurrent_kernel');
    const k = d.kernel.data as Float32Array;
    const r = d.recurrent.data as Float32Array;
    kind.order.forEach((kg, g) => {
      for (let u = 0; u < U; u++) {
        const row = (di * G + g) * U + u;
        for (let i = 0; i < I; i++) W[row * I + i] = k[i * G * U + kg * U + u]!;
        for (let j = 0; j < U; j++) R[row * U + j] = r[j * G * U + kg * U + u]!;
      }
    });
    if (d.bias) {
      const b = d.bias.data as Float32Array;
      // GRU reset_after: [2, 3U], input bias then recurrent bias
      check(d.bias, resetAfter ? [2, G * U] : [G * U], 'bias');
      kind.order.forEach((kg, g) => {
        for (let u = 0; u < U; u++) {
          B[di * 2 * G * U + g * U + u] = b[kg * U + u]!;
          if (resetAfter) B[di * 2 * G * U + G * U + g * U + u] = b[G * U + kg * U + u]!;
        }
      });
    }
  });

  const acts = [cfg.recurrent_activation, cfg.activation, cfg.activation].slice(0, kind.op === 'LSTM' ? 3 : kind.op === 'GRU' ? 2 : 1);
  // SimpleRNN has one activation, `activation`
  const names = kind.op === 'RNN' ? [activationName(cfg.activation ?? 'tanh')] : acts.map((a, i) => activationName(a ?? (i === 0 ? 'sigmoid' : 'tanh')));
  const onnxActs = names.map((n) => onnxActivation(n, call, e.keras3));
  const perDir = Array.from({ length: nd }, () => onnxActs).flat();
  const attrs: Record<string, Attr> = {
    hidden_size: int(U),
    direction: { type: 'string', value: nd === 2 ? 'bidirectional' : goBackwards ? 'reverse' : 'forward' },
    activations: { type: 'strings', value: perDir.map((a) => a.name) },
  };
  const alpha = perDir.flatMap((a) => a.alpha);
  const beta = perDir.flatMap((a) => a.beta);
  if (alpha.length) attrs.activation_alpha = { type: 'floats', value: alpha };
  if (beta.length) attrs.activation_beta = { type: 'floats', value: beta };
  if (resetAfter) attrs.linear_before_reset = int(1);

  const n = call.name;
  const node = (op: string, inputs: string[], out: string, a: Record<string, Attr> = {}): string => e.node(op, inputs, [out], a, '', out)[0]!;
  const xt = node('Transpose', [x.name], `${n}/time_major`, { perm: ints([1, 0, 2]) });
  const inputs = [xt, e.constant(`${n}/W`, Tensor.float32([nd, G * U, I], W)), e.constant(`${n}/R`, Tensor.float32([nd, G * U, U], R)), hasBias ? e.constant(`${n}/B`, Tensor.float32([nd, 2 * G * U], B)) : ''];
  // initial states: call inputs after x, per direction (h, c for LSTM)
  const given = call.inputs.slice(1);
  if (given.length) {
    if (given.length !== nd * kind.states) throw new FormatError(`layer '${call.name}' (${call.className}) is called with ${given.length} initial states, ${nd * kind.states} expected`);
    inputs.push('');
    for (let s = 0; s < kind.states; s++) {
      const per = Array.from({ length: nd }, (_, d) => node('Unsqueeze', [given[d * kind.states + s]!.name, e.constant(`${n}/axes0`, Tensor.int64([1], [0]))], `${n}/initial_${s}_${d}`));
      inputs.push(nd === 1 ? per[0]! : node('Concat', per, `${n}/initial_${s}`, { axis: int(0) }));
    }
  }
  const outNames = [`${n}/Y`, `${n}/Y_h`, ...(kind.op === 'LSTM' ? [`${n}/Y_c`] : [])];
  const [Y, Yh, Yc] = e.node(kind.op, inputs, outNames, attrs, '', `${n}/${kind.op.toLowerCase()}`);

  const B_ = x.shape[0] ?? null;
  const T = x.shape[1] ?? null;
  const outputs: KValue[] = [];
  const merged = (units3: number): number => (merge === 'concat' ? nd * units3 : units3);
  if (returnSequences) {
    // Y [T, nd, B, U] -> [B, T, nd, U]; go_backwards keeps Keras' order: the last step first
    let y = Y!;
    if (goBackwards) y = node('Slice', [y, e.constant(`${n}/minus1`, Tensor.int64([1], [-1])), e.constant(`${n}/int64_min`, Tensor.int64([1], [-(2n ** 63n)])), e.constant(`${n}/axes0`, Tensor.int64([1], [0])), e.constant(`${n}/minus1`, Tensor.int64([1], [-1]))], `${n}/reversed`);
    const bt = node('Transpose', [y], `${n}/batch_major`, { perm: ints([2, 0, 1, 3]) });
    outputs.push({ name: mergeDirections(e, n, bt, nd, merge, 2, true), shape: [B_, T, merged(U)] });
  } else {
    // Y_h [nd, B, U] -> [B, nd, U]
    const bt = node('Transpose', [Yh!], `${n}/last_batch_major`, { perm: ints([1, 0, 2]) });
    outputs.push({ name: mergeDirections(e, n, bt, nd, merge, 1, false), shape: [B_, merged(U)] });
  }
  if (returnState) {
    // Keras: [output, h, c] per direction, forward first
    for (let d = 0; d < nd; d++) {
      for (const s of kind.op === 'LSTM' ? [Yh!, Yc!] : [Yh!]) {
        const one = nd === 1 ? s : node('Slice', [s, e.constant(`${n}/dir${d}`, Tensor.int64([1], [d])), e.constant(`${n}/dir${d + 1}`, Tensor.int64([1], [d + 1])), e.constant(`${n}/axes0`, Tensor.int64([1], [0]))], `${s}/dir${d}`);
        outputs.push({ name: node('Squeeze', [one, e.constant(`${n}/axes0`, Tensor.int64([1], [0]))], `${s}/state${d}`), shape: [B_, U] });
      }
    }
  }
  // the first output carries the layer's name
  outputs[0] = { ...outputs[0]!, name: node('Identity', [outputs[0]!.name], n) };
  return outputs;
}

/** [B, (T,) nd, U] at direction axis `axis` -> merged per `merge` (single direction: squeezed). */
function mergeDirections(e: IrEmitter, n: string, v: string, nd: number, merge: string | undefined, axis: number, seq: boolean): string {
  const out = `${n}/merged`;
  const axes = e.constant(`${n}/axis${axis}`, Tensor.int64([1], [axis]));
  if (nd === 1) return e.node('Squeeze', [v, axes], [out], {}, '', out)[0]!;
  switch (merge) {
    case 'concat':
      return e.node('Reshape', [v, e.constant(`${n}/concat_shape`, Tensor.int64([seq ? 3 : 2], seq ? [0, 0, -1] : [0, -1]))], [out], {}, '', out)[0]!;
    case 'sum':
      return e.node('ReduceSum', [v, axes], [out], { keepdims: int(0) }, '', out)[0]!;
    case 'ave':
      return e.node('ReduceMean', [v], [out], { axes: ints([axis]), keepdims: int(0) }, '', out)[0]!;
    case 'mul':
      return e.node('ReduceProd', [v], [out], { axes: ints([axis]), keepdims: int(0) }, '', out)[0]!;
    default:
      throw new UnsupportedError(`Keras Bidirectional merge_mode ${JSON.stringify(merge)}`, `layer '${n}'`);
  }
}

export function recurrentLayer(e: IrEmitter, call: LayerCall): KValue[] {
  const dir: Direction = { kernel: weight(call, 'kernel'), recurrent: weight(call, 'recurrent_kernel') };
  if (call.weights.has('bias')) dir.bias = weight(call, 'bias');
  return emitRecurrent(e, call, call.className, call.config, [dir], undefined);
}

/** What a recurrent layer computes (besides its weights and which way it runs). */
const COMPUTE_KEYS = ['units', 'activation', 'recurrent_activation', 'use_bias', 'reset_after', 'return_sequences', 'return_state', 'stateful', 'time_major', 'unroll', 'filters', 'kernel_size', 'strides', 'padding', 'data_format', 'dilation_rate'];

/**
 * Keras 3 always writes Bidirectional's `backward_layer`: the wrapped layer's copy with
 * go_backwards=True. One that computes anything else is refused.
 */
function checkBackwardLayer(call: LayerCall, forward: { className: string; config: JsonObject }): void {
  const b = call.config.backward_layer;
  if (b === undefined || b === null) return;
  const back = isObject(b) ? innerLayer({ layer: b }) : undefined;
  const differs = !back || back.className !== forward.className || back.config.go_backwards !== true || COMPUTE_KEYS.some((k) => JSON.stringify(back.config[k]) !== JSON.stringify(forward.config[k]));
  if (differs) throw new UnsupportedError('Keras Bidirectional with a backward_layer other than the wrapped layer run backwards', `layer '${call.name}'`);
}

export function bidirectionalLayer(e: IrEmitter, call: LayerCall): KValue[] {
  const inner = innerLayer(call.config);
  if (inner && isConvRecurrent(inner.className)) {
    checkBackwardLayer(call, inner);
    if (inner.config.go_backwards === true) throw new UnsupportedError('Keras Bidirectional around a go_backwards layer', `layer '${call.name}'`);
    return convLstmBidirectional(e, call, inner, call.config.merge_mode === undefined ? 'concat' : call.config.merge_mode === null ? null : String(call.config.merge_mode));
  }
  if (!inner || !KIND[inner.className]) throw new UnsupportedError(`Keras Bidirectional around ${inner?.className ?? 'an unknown layer'}`, `layer '${call.name}'`);
  checkBackwardLayer(call, inner);
  if (inner.config.go_backwards === true) throw new UnsupportedError('Keras Bidirectional around a go_backwards layer', `layer '${call.name}'`);
  const dirs = ['forward', 'backward'].map((d): Direction => {
    const dir: Direction = { kernel: weight(call, `${d}/kernel`), recurrent: weight(call, `${d}/recurrent_kernel`) };
    if (call.weights.has(`${d}/bias`)) dir.bias = weight(call, `${d}/bias`);
    return dir;
  });
  const merge = call.config.merge_mode === undefined ? 'concat' : call.config.merge_mode === null ? undefined : String(call.config.merge_mode);
  return emitRecurrent(e, call, inner.className, inner.config, dirs, merge);
}

/**
 * A stateful LSTM / GRU / SimpleRNN (`stateful=True`): Keras carries its states from one batch to the
 * next in variables a saved file does not hold (they start at zeros when the model is loaded, and at
 * reset_states). ONNX / TFLite graphs keep no state between runs, so the layer reads with its states as
 * graph inputs after the model's (`<layer>_h`, LSTM's `<layer>_c`: zeros for the first chunk) and the
 * states after the call as graph outputs after the model's (`<layer>_h_next`, `<layer>_c_next`): fed
 * back, the graph computes what Keras computes on consecutive chunks. Refused by name: with a mask, an
 * initial_state given too, a layer called more than once (its calls would share the states).
 */
export function statefulRecurrent(row: (e: IrEmitter, call: LayerCall) => KValue[]): (e: IrEmitter, call: LayerCall) => KValue[] {
  return (e, call) => {
    if (call.config.stateful !== true) return row(e, call);
    const where = `layer '${call.name}'`;
    const x = call.inputs[0];
    if (!e.stateInput || !e.stateOutput) throw new UnsupportedError(`Keras ${call.className} with stateful=True`, `${where}: its states would be graph inputs and outputs`);
    if (x?.mask) throw new UnsupportedError(`Keras ${call.className} with stateful=True and a mask`, where);
    if (call.inputs.length > 1) throw new UnsupportedError(`Keras ${call.className} with stateful=True and an initial_state`, where);
    if (/_call\d+$/.test(call.name)) throw new UnsupportedError(`Keras ${call.className} with stateful=True called more than once`, where);
    const units = call.config.units;
    if (typeof units !== 'number' || !Number.isInteger(units) || units < 1) throw new ShapeError(`${where} (${call.className}): units ${JSON.stringify(units)} is not a positive integer`);
    const shape: KShape = [x?.shape[0] ?? null, units];
    const names = call.className === 'LSTM' ? ['h', 'c'] : ['h'];
    const states = names.map((s) => ({ name: e.stateInput!(`${call.name}_${s}`, shape), shape }));
    const returnState = call.config.return_state === true;
    const outputs = row(e, { ...call, config: { ...call.config, stateful: false, return_state: true }, inputs: [x!, ...states] });
    names.forEach((s, i) => e.stateOutput!(outputs[1 + i]!.name, `${call.name}_${s}_next`, shape));
    return returnState ? outputs : outputs.slice(0, 1);
  };
}

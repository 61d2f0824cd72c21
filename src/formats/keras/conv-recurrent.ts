// Keras ConvLSTM1D / ConvLSTM2D / ConvLSTM3D (Keras 2 / tf.keras .h5, Keras 3 .keras, TF.js
// layers) -> IR, unrolled over the input's (fixed) steps. ONNX has no convolutional recurrent op,
// so each step is the cell itself in plain ops on channels-last data:
//   z = conv(x_t, kernel, layer's strides / padding / dilation) + bias + conv(h, recurrent_kernel, 'same', stride 1)
//   i, f, c~, o = split(z) (Keras' gate order along the kernels' last axis)
//   c = rec_act(f)·c + rec_act(i)·act(c~);  h = rec_act(o)·act(c)
// (Keras' ConvLSTMCell: the recurrent conv never strides or dilates.) The convs are `nnport`-domain
// channels-last Convs (HWIO kernels) as the Conv rows', so the layout pass and every writer take them.
// The zero initial states make the first step's recurrent conv and f·c vanish: they are left out,
// and no zeros of the (possibly unknown) batch are needed. go_backwards runs the steps last first
// and keeps Keras' order of the outputs (the last input step's first).
import { FormatError, ShapeError, UnsupportedError } from '../../ir/errors.js';
import type { Attr } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import type { JsonObject } from './config.js';
import { activationName, convOut, emitActivation, int, ints, padAttrs, str, tfPads, tuple, type IrEmitter, type KShape, type KValue, type LayerCall } from './layers.js';

/** The spatial rank of each convolutional recurrent class. */
const RANKS: Readonly<Record<string, number>> = { ConvLSTM1D: 1, ConvLSTM2D: 2, ConvLSTM3D: 3 };

/** The weight roles of a ConvLSTM layer (Keras order: the cell's kernel, recurrent_kernel, bias); undefined for other classes. */
export function convRecurrentWeightRoles(className: string, cfg: JsonObject): string[] | undefined {
  if (RANKS[className] === undefined) return undefined;
  return ['kernel', 'recurrent_kernel', ...(cfg.use_bias === false ? [] : ['bias'])];
}

/** Whether Keras 3 keeps the class' weights in its `cell` (as for LSTM: layers/<group>/cell/vars). */
export function isConvRecurrent(className: string): boolean {
  return RANKS[className] !== undefined;
}

function weight(call: LayerCall, role: string, shape: number[]): Tensor {
  const t = call.weights.get(role);
  if (!t) throw new FormatError(`layer '${call.name}' (${call.className}) has no '${role}' weight`);
  if (t.dtype !== 'float32') throw new UnsupportedError(`${call.className} with ${t.dtype} weights`, `layer '${call.name}'`);
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`layer '${call.name}' (${call.className}): weight '${role}' has shape [${t.shape.join(', ')}], the config implies [${shape.join(', ')}]`);
  }
  return t;
}

/** ConvLSTM1D / 2D / 3D on a [batch, time, ...spatial, channels] input (channels_first: [batch, time, channels, ...spatial]). */
export function convLstmLayer(e: IrEmitter, call: LayerCall): KValue[] {
  return emitConvLstm(e, call, call.className, call.config, [{ roles: '', backwards: call.config.go_backwards === true }], undefined);
}

/** Bidirectional around a ConvLSTM layer (`inner`): both directions unrolled, merged per merge_mode (null: two outputs). */
export function convLstmBidirectional(e: IrEmitter, call: LayerCall, inner: { className: string; config: JsonObject }, merge: string | null): KValue[] {
  return emitConvLstm(e, call, inner.className, inner.config, [{ roles: 'forward/', backwards: false, name: 'forward' }, { roles: 'backward/', backwards: true, name: 'backward' }], merge);
}

interface Direction {
  /** the prefix of its weights' roles ('' or Bidirectional's 'forward/' / 'backward/') */
  roles: string;
  backwards: boolean;
  /** Bidirectional: the name part of its nodes */
  name?: string;
}

function emitConvLstm(e: IrEmitter, call: LayerCall, className: string, cfg: JsonObject, dirs: Direction[], merge: string | null | undefined): KValue[] {
  const rank = RANKS[className];
  if (rank === undefined) throw new UnsupportedError(`Keras convolutional recurrent layer ${className}`, `layer '${call.name}'`);
  const n = call.name;
  const where = `layer '${n}' (${call.className})`;
  if (cfg.stateful === true) throw new UnsupportedError(`Keras ${className} with stateful=True`, `layer '${n}': the states carried between batches are not a model input`);
  const x0 = call.inputs[0];
  if (!x0) throw new FormatError(`${where} has no input`);
  if (x0.mask) throw new UnsupportedError(`Keras ${className} with a mask`, `${where} is given the mask of an Embedding(mask_zero=True) or Masking layer`);
  if (x0.shape.length !== rank + 3) throw new ShapeError(`${where} needs a rank-${rank + 3} [batch, time, ${rank === 1 ? 'steps' : rank === 2 ? 'rows, cols' : 'depth, rows, cols'}, channels] input, got [${x0.shape.map((d) => d ?? '?').join(', ')}]`);
  const format = cfg.data_format ?? 'channels_last';
  if (format !== 'channels_last' && format !== 'channels_first') throw new UnsupportedError(`${className} with data_format '${String(format)}'`, `layer '${n}'`);
  const first = format === 'channels_first';
  const filters = cfg.filters;
  if (typeof filters !== 'number' || !Number.isInteger(filters) || filters < 1) throw new ShapeError(`${where}: filters ${JSON.stringify(filters)} is not a positive integer`);
  const F = filters;
  const k = tuple(cfg.kernel_size, rank, 1, `layer '${n}' kernel_size`);
  const s = tuple(cfg.strides, rank, 1, `layer '${n}' strides`);
  const d = tuple(cfg.dilation_rate, rank, 1, `layer '${n}' dilation_rate`);
  const padding = String(cfg.padding ?? 'valid').toLowerCase();
  if (padding !== 'valid' && padding !== 'same') throw new UnsupportedError(`${className} padding '${padding}'`, `layer '${n}'`);
  const T = x0.shape[1];
  if (typeof T !== 'number') {
    throw new UnsupportedError(`Keras ${className} over a dynamic sequence length`, `${where}: nnport unrolls it over a fixed number of steps (fix the input's sequence length with --input-shape NAME=d0,d1,...)`);
  }
  if (T < 1) throw new ShapeError(`${where}: an input of ${T} steps`);

  const node = (op: string, inputs: string[], out: string, attrs: Record<string, Attr> = {}, domain = ''): string => e.node(op, inputs, [out], attrs, domain, out)[0]!;
  const B = x0.shape[0] ?? null;
  // channels_first: [B, (T,) C, ...S] -> [B, (T,) ...S, C] here, and the outputs back after; `lead` is 2 for a sequence, 1 for a state
  const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);
  const toLast = (v: string, lead: number, out: string): string => (first ? node('Transpose', [v], out, { perm: ints([...range(0, lead), ...range(lead + 1, rank), lead]) }) : v);
  const toFirst = (v: string, lead: number, out: string): string => (first ? node('Transpose', [v], out, { perm: ints([...range(0, lead), lead + rank, ...range(lead, rank)]) }) : v);
  const firstShape = (shape: KShape, lead: number): KShape => (first ? [...shape.slice(0, lead), shape[lead + rank]!, ...shape.slice(lead, lead + rank)] : shape);
  const spatialIn: KShape = first ? x0.shape.slice(3) : x0.shape.slice(2, 2 + rank);
  const C = first ? x0.shape[2] : x0.shape[rank + 2];
  if (typeof C !== 'number') throw new ShapeError(`${where}: the input's channel count is unknown`);
  const x = toLast(x0.name, 2, `${n}/channels_last`);

  // a key left out takes the constructor's default (the gates: Keras 2 and TF.js hard_sigmoid, Keras 3 sigmoid); null is Keras' None, linear
  const act = activationName(cfg.activation === undefined ? 'tanh' : cfg.activation);
  const recAct = activationName(cfg.recurrent_activation === undefined ? (e.keras3 ? 'sigmoid' : 'hard_sigmoid') : cfg.recurrent_activation);
  const spatialOut: KShape = spatialIn.map((sz, i) => convOut(sz, k[i]!, s[i]!, d[i]!, padding));
  const stateShape: KShape = [B, ...spatialOut, F];
  const ones = new Array<number>(rank).fill(1);
  const convAttrs = (strides: number[], dil: number[], pads: number[] | undefined): Record<string, Attr> => ({ kernel_shape: ints(k), strides: ints(strides), dilations: ints(dil), group: int(1), kernel_layout: str('HWIO'), ...padAttrs(pads) });
  const inputAttrs = convAttrs(s, d, tfPads(spatialIn, k, s, d, padding));
  const recurrentAttrs = convAttrs(ones, ones, tfPads(spatialOut, k, ones, ones, 'same'));
  const gateSizes = e.constant(`${n}/gate_sizes`, Tensor.int64([4], [F, F, F, F]));
  const a = (name: string, v: string, out: string): string => emitActivation(e, name, { name: v, shape: stateShape }, out, call).name;

  // initial states: Keras 2 / TF.js list them as call inputs after x (h, then c; per direction, forward first)
  const given = call.inputs.slice(1);
  if (given.length !== 0 && given.length !== 2 * dirs.length) throw new FormatError(`${where} is called with ${given.length} initial states, ${2 * dirs.length} (h, c${dirs.length > 1 ? ' per direction' : ''}) expected`);

  /** One direction's steps: its h after each step in the order it runs, and the last h and c. */
  const run = (dir: Direction, di: number): { hs: string[]; h: string; c: string } => {
    const n1 = dir.name ? `${n}/${dir.name}` : n;
    const kName = e.constant(`${n1}/kernel`, weight(call, `${dir.roles}kernel`, [...k, C, 4 * F]));
    const rName = e.constant(`${n1}/recurrent_kernel`, weight(call, `${dir.roles}recurrent_kernel`, [...k, F, 4 * F]));
    const bName = call.weights.has(`${dir.roles}bias`) ? e.constant(`${n1}/bias`, weight(call, `${dir.roles}bias`, [4 * F])) : undefined;
    let h = given[2 * di] && toLast(given[2 * di]!.name, 1, `${n1}/initial_h`);
    let c = given[2 * di + 1] && toLast(given[2 * di + 1]!.name, 1, `${n1}/initial_c`);
    const hs: string[] = [];
    for (let i = 0; i < T; i++) {
      const t = dir.backwards ? T - 1 - i : i;
      const p = `${n1}/t${t}`;
      const xt = node('Gather', [x, e.constant(`${n}/step${t}`, Tensor.int64([], [t]))], `${p}/x`, { axis: int(1) });
      let z = node('Conv', bName ? [xt, kName, bName] : [xt, kName], `${p}/input_conv`, inputAttrs, 'nnport');
      if (h) z = node('Add', [z, node('Conv', [h, rName], `${p}/recurrent_conv`, recurrentAttrs, 'nnport')], `${p}/z`);
      const [zi, zf, zc, zo] = e.node('Split', [z, gateSizes], [`${p}/zi`, `${p}/zf`, `${p}/zc`, `${p}/zo`], { axis: int(rank + 1) }, '', `${p}/gates`);
      const ig = node('Mul', [a(recAct, zi!, `${p}/i`), a(act, zc!, `${p}/candidate`)], `${p}/i_candidate`);
      c = c ? node('Add', [node('Mul', [a(recAct, zf!, `${p}/f`), c], `${p}/f_c`), ig], `${p}/c`) : ig;
      h = node('Mul', [a(recAct, zo!, `${p}/o`), a(act, c, `${p}/c_act`)], `${p}/h`);
      hs.push(h);
    }
    return { hs, h: h!, c: c! };
  };
  const runs = dirs.map(run);

  const axes1 = e.constant(`${n}/axis1`, Tensor.int64([1], [1]));
  const sequence = (hs: string[], out: string): string => node('Concat', hs.map((v) => node('Unsqueeze', [v, axes1], `${v}/step`)), out, { axis: int(1) });
  const returnSequences = cfg.return_sequences === true;
  // per direction: the sequence in input order (a single go_backwards layer keeps Keras' order, the last input step first;
  // Bidirectional's backward sequence is reversed back) or the last h
  const outs = runs.map((r, i) => (returnSequences ? sequence(dirs.length > 1 && dirs[i]!.backwards ? [...r.hs].reverse() : r.hs, `${n}/${dirs[i]!.name ?? ''}sequence`) : r.h));
  const lead = returnSequences ? 2 : 1;
  const outShape = (channels: number): KShape => firstShape(returnSequences ? [B, T, ...spatialOut, channels] : [B, ...spatialOut, channels], lead);
  const outputs: KValue[] = [];
  if (dirs.length === 1 || merge === null) {
    outs.forEach((v) => outputs.push({ name: toFirst(v, lead, `${v}/channels_first`), shape: outShape(F) }));
  } else {
    const [fw, bw] = outs as [string, string];
    let merged: string;
    let channels = F;
    switch (merge) {
      case 'concat':
        merged = node('Concat', [fw, bw], `${n}/concat`, { axis: int(lead + rank) });
        channels = 2 * F;
        break;
      case 'sum':
        merged = node('Add', [fw, bw], `${n}/sum`);
        break;
      case 'mul':
        merged = node('Mul', [fw, bw], `${n}/mul`);
        break;
      case 'ave':
        merged = node('Mul', [node('Add', [fw, bw], `${n}/sum`), e.constant(`${n}/half`, Tensor.float32([], [0.5]))], `${n}/ave`);
        break;
      default:
        throw new UnsupportedError(`Keras Bidirectional merge_mode ${JSON.stringify(merge)}`, `layer '${n}'`);
    }
    outputs.push({ name: toFirst(merged, lead, `${merged}/channels_first`), shape: outShape(channels) });
  }
  if (cfg.return_state === true) {
    // Keras: [output(s), h, c] (Bidirectional: forward h, c, then backward h, c)
    runs.forEach((r, i) => {
      const dn = dirs[i]!.name ? `${dirs[i]!.name}_` : '';
      outputs.push({ name: toFirst(r.h, 1, `${n}/${dn}state_h`), shape: firstShape(stateShape, 1) });
      outputs.push({ name: toFirst(r.c, 1, `${n}/${dn}state_c`), shape: firstShape(stateShape, 1) });
    });
  }
  // the first output carries the layer's name
  outputs[0] = { ...outputs[0]!, name: node('Identity', [outputs[0]!.name], n) };
  return outputs;
}

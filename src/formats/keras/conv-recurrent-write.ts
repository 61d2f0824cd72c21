// Keras ConvLSTM1D / 2D / 3D written back: the Keras reader unrolls the layer over its steps
// (conv-recurrent.ts: per step a Gather of the step, the input conv, the recurrent conv of h, the
// gates), which are no Keras layers. The writer recognises such steps by regenerating them: the
// candidate layer (filters, kernel and strides from the first input conv, the activations from the
// ops on the gates, padding / go_backwards / initial states / return_sequences tried) is emitted
// again by the reader's own convLstmLayer into a scratch graph, and that graph must equal the steps
// in the model node for node (ops, attributes, constant values, wiring), with no value inside them
// read elsewhere. Only then do the steps become one ConvLSTM layer; anything else (a Bidirectional
// ConvLSTM, channels_first, a mask, steps a pass has changed) keeps the refusal of the op it stops at.
// Why regenerate rather than carry the layer through the graph as provenance: the IR stays plain
// ONNX ops that every pass may rewrite, and a match proves the steps compute what the layer would.
import type { Attr, Graph, Node } from '../../ir/graph.js';
import type { DType } from '../../ir/dtypes.js';
import { foldConstants } from '../../passes/fold-constants.js';
import { fuseBias } from '../../passes/fuse-bias.js';
import { attrInt, constantValue } from '../../ir/graph.js';
import { UnsupportedError } from '../../ir/errors.js';
import { inferShapes } from '../../ir/ops/infer.js';
import type { ConstantEvaluator } from '../../passes/fold-constants.js';
import { Tensor } from '../../ir/tensor.js';
import type { JsonObject } from './config.js';
import { convLstmLayer } from './conv-recurrent.js';
import type { IrEmitter, KShape, KValue, LayerCall } from './layers.js';
import type { KTensor, Writer } from './from-graph.js';

const CLASS_OF_RANK: Record<number, string> = { 1: 'ConvLSTM1D', 2: 'ConvLSTM2D', 3: 'ConvLSTM3D' };

/** One recognised layer: its nodes in the model, its inputs (x, then h0, c0), the values of its outputs. */
export interface ConvLstmPlan {
  className: string;
  nodes: Set<Node>;
  inputs: string[];
  /** the model's values of Keras' outputs: [output, h, c] (h / c only where read: return_state) */
  outputs: (string | undefined)[];
  config: JsonObject;
  weights: { role: string; tensor: Tensor }[];
  shape: KShape;
  stateShape: KShape;
  /** the steps' hard_sigmoid is Keras 3's (x/6 + 0.5), else Keras 2's / TF.js' (0.2x + 0.5) */
  keras3: boolean;
  emitted?: boolean;
}

interface ScratchNode {
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

/** The reader's emission of some layer rows into a list of nodes and constants. */
export interface Regenerated {
  nodes: ScratchNode[];
  constants: Map<string, Tensor>;
  outputs: KValue[];
}

export function regenerateWith(emit: (e: IrEmitter) => KValue[], keras3: boolean): Regenerated {
  const nodes: ScratchNode[] = [];
  const constants = new Map<string, Tensor>();
  let k = 0;
  const e: IrEmitter = {
    file: 'regenerated',
    keras3,
    tfjsSaved: false,
    node(opType, inputs, outputs, attrs = {}, domain = '') {
      const outs = outputs.map((o) => `\u0000v${k++}:${o}`);
      nodes.push({ opType, domain, inputs, outputs: outs, attrs });
      return outs;
    },
    constant(name, t) {
      const c = `\u0000c${k++}:${name}`;
      constants.set(c, t);
      return c;
    },
  };
  const outputs = emit(e);
  // the nodes the outputs need (a model's graph keeps no dead nodes: a step's unread sequence piece)
  const needed = new Set(outputs.map((o) => o.name));
  const live: ScratchNode[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!n.outputs.some((o) => needed.has(o))) continue;
    live.push(n);
    for (const v of n.inputs) if (v) needed.add(v);
  }
  return { nodes: live.reverse(), constants, outputs };
}

const regenerate = (call: LayerCall, keras3: boolean): Regenerated => regenerateWith((e) => convLstmLayer(e, call), keras3);

/**
 * The scratch nodes as the Keras preparation leaves a model's (src/api/to-keras.ts: constants
 * folded, a MatMul's bias Add fused into a Gemm), so that they can equal the model's nodes.
 * `inputs`: the scratch's graph inputs with their dtypes and (as in the model) shapes. Unchanged where the passes fail.
 */
export function canonical(scratch: Regenerated, inputs: ReadonlyMap<string, { dtype: DType; shape?: readonly (number | string | null)[] }>, evaluate: ConstantEvaluator | undefined): Regenerated {
  if (!evaluate) return scratch;
  const g: Graph = {
    name: 'regenerated',
    nodes: scratch.nodes.map((n, i) => ({ name: `n${i}`, ...n })),
    inputs: [...inputs].map(([name, v]) => ({ name, dtype: v.dtype, ...(v.shape ? { shape: [...v.shape] } : {}) })),
    outputs: scratch.outputs.map((o) => ({ name: o.name, dtype: 'float32' as DType })),
    initializers: new Map(scratch.constants),
    opsets: { '': 17 },
  };
  try {
    const fold = (h: Graph) => foldConstants(h, { evaluate }).graph;
    const c = fold(fuseBias(fold(g)).graph);
    return { nodes: c.nodes.map((n) => ({ opType: n.opType, domain: n.domain, inputs: n.inputs, outputs: n.outputs, attrs: n.attrs })), constants: c.initializers, outputs: scratch.outputs };
  } catch {
    return scratch;
  }
}

function sameTensor(a: Tensor, b: Tensor): boolean {
  if (a.dtype !== b.dtype || a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])) return false;
  const x = a.bytes();
  const y = b.bytes();
  if (x.byteLength !== y.byteLength) return false;
  for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  return true;
}

function sameAttrs(a: Record<string, Attr>, b: Record<string, Attr>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const x = a[key];
    const y = b[key];
    if (!x || !y || x.type !== y.type) return false;
    if (x.type === 'tensor') {
      if (!sameTensor(x.value, (y as typeof x).value)) return false;
    } else if (JSON.stringify(x.value) !== JSON.stringify(y.value)) return false;
  }
  return true;
}

export interface Model {
  nodes: readonly Node[];
  /** computes a node of constants (the evaluator the Keras preparation folds constants with) */
  evaluate?: ConstantEvaluator;
  consumers: Map<string, Node[]>;
  constant: (v: string) => Tensor | undefined;
  outputs: Set<string>;
}

/**
 * The model's nodes that equal the scratch nodes, with `bound` giving the model value of each
 * scratch value (x pre-bound; the initial states bound at first use); undefined where one has no equal.
 */
export function match(m: Model, scratch: Regenerated, bound: Map<string, string>, free: Set<string>, taken: ReadonlySet<Node> = new Set()): Set<Node> | undefined {
  const used = new Set<Node>();
  for (const s of scratch.nodes) {
    const anchor = s.inputs.find((i) => i && bound.has(i));
    const pool = anchor !== undefined ? m.consumers.get(bound.get(anchor)!) ?? [] : m.nodes;
    let found: Node | undefined;
    let binds: [string, string][] = [];
    for (const r of pool) {
      if (used.has(r) || taken.has(r) || r.opType !== s.opType || r.domain !== s.domain || r.inputs.length !== s.inputs.length || r.outputs.length !== s.outputs.length || !sameAttrs(r.attrs, s.attrs)) continue;
      const tentative: [string, string][] = [];
      const ok = s.inputs.every((si, i) => {
        const ri = r.inputs[i]!;
        if (!si || !ri) return si === ri;
        const c = scratch.constants.get(si);
        if (c) {
          const rc = m.constant(ri);
          return rc !== undefined && sameTensor(c, rc);
        }
        if (bound.has(si)) return bound.get(si) === ri;
        if (free.has(si) && m.constant(ri) === undefined) {
          tentative.push([si, ri]);
          return true;
        }
        return false;
      });
      if (ok) {
        found = r;
        binds = tentative;
        break;
      }
    }
    if (!found) {
      // the layer's closing Identity (its name) may have been dropped by a pass
      if (s.opType === 'Identity' && bound.has(s.inputs[0]!)) {
        bound.set(s.outputs[0]!, bound.get(s.inputs[0]!)!);
        continue;
      }
      // a node of constants that the Keras preparation folded (a zero initial state's recurrent
      // projection): computed by the same evaluator, its outputs compared as constants where read
      const ins = s.inputs.map((i) => (i ? scratch.constants.get(i) : undefined));
      if (m.evaluate && s.inputs.every((i, k) => !i || ins[k]) && s.inputs.some(Boolean)) {
        const outs = m.evaluate({ name: '', opType: s.opType, domain: s.domain, inputs: s.inputs, outputs: s.outputs, attrs: s.attrs }, ins, 17);
        s.outputs.forEach((o, k) => scratch.constants.set(o, outs[k]!));
        continue;
      }
      return undefined;
    }
    used.add(found);
    for (const [a, b] of binds) bound.set(a, b);
    s.outputs.forEach((o, i) => bound.set(o, found.outputs[i]!));
  }
  return used;
}

const GATE_ACTIVATIONS: Record<string, string> = { Sigmoid: 'sigmoid', Tanh: 'tanh', Relu: 'relu', HardSigmoid: 'hard_sigmoid', Elu: 'elu', Selu: 'selu', Softplus: 'softplus', Softsign: 'softsign' };

/** The Keras activation applied to a gate value: the op reading it (none but the gate products: linear). */
function activationOn(m: Model, v: string): { name: string; alpha?: number } | undefined {
  const readers = m.consumers.get(v) ?? [];
  const act = readers.find((r) => !r.domain && GATE_ACTIVATIONS[r.opType]);
  if (act) return { name: GATE_ACTIVATIONS[act.opType]!, ...(act.opType === 'HardSigmoid' ? { alpha: act.attrs.alpha?.type === 'float' ? act.attrs.alpha.value : 0.2 } : {}) };
  if (readers.length && readers.every((r) => !r.domain && r.opType === 'Mul')) return { name: 'linear' };
  return undefined;
}

/**
 * Find the unrolled ConvLSTM layers of the graph (the Keras reader's steps): every node of each is
 * skipped by the writer, and the returned map gives each node its layer, emitted once its inputs
 * have Keras tensors (emitConvLstm).
 */
export function findConvLstms(w: Writer): Map<Node, ConvLstmPlan> {
  const plans = new Map<Node, ConvLstmPlan>();
  const g = w.graph;
  const constants = new Map(w.constants);
  for (const n of g.nodes) if (n.opType === 'Constant' && !n.domain) constants.set(n.outputs[0]!, constantValue(n));
  const isStep = (n: Node) => !n.domain && n.opType === 'Gather' && attrInt(n, 'axis', 0) === 1 && constants.get(n.inputs[1]!)?.rank === 0 && (w.consumers.get(n.outputs[0]!) ?? []).some((c) => c.domain === 'nnport' && c.opType === 'Conv' && c.inputs[0] === n.outputs[0]);
  const steps = g.nodes.filter(isStep);
  if (!steps.length) return plans;
  let shapes: Map<string, { shape?: readonly (number | string | null)[] }>;
  try {
    shapes = inferShapes(g, { record: false }).values as typeof shapes;
  } catch {
    return plans;
  }
  const m: Model = { nodes: g.nodes, consumers: w.consumers, constant: (v) => constants.get(v), outputs: new Set(g.outputs.map((o) => o.name)), evaluate: w.options.evaluate };
  const byInput = new Map<string, Node[]>();
  for (const s of steps) byInput.set(s.inputs[0]!, [...(byInput.get(s.inputs[0]!) ?? []), s]);
  for (const [x, gathers] of byInput) {
    const plan = recognise(w, m, x, gathers, shapes.get(x)?.shape);
    if (plan) for (const n of plan.nodes) {
      plans.set(n, plan);
      w.skip.add(n);
    }
  }
  return plans;
}

function recognise(w: Writer, m: Model, x: string, gathers: Node[], xShape: readonly (number | string | null)[] | undefined): ConvLstmPlan | undefined {
  if (!xShape) return undefined;
  const rank = xShape.length - 3;
  const className = CLASS_OF_RANK[rank];
  const T = xShape[1];
  if (!className || typeof T !== 'number' || gathers.length !== T) return undefined;
  const shape: KShape = xShape.map((d, i) => (i === 0 || typeof d !== 'number' ? null : d));
  const conv = (w.consumers.get(gathers[0]!.outputs[0]!) ?? []).find((c) => c.domain === 'nnport' && c.opType === 'Conv')!;
  const kernel = m.constant(conv.inputs[1]!);
  const bias = conv.inputs[2] ? m.constant(conv.inputs[2]) : undefined;
  if (!kernel || kernel.rank !== rank + 2 || (conv.inputs[2] && !bias)) return undefined;
  const F = kernel.shape[rank + 1]! / 4;
  if (!Number.isInteger(F) || F < 1) return undefined;
  const ks = kernel.shape.slice(0, rank) as number[];
  const ints = (a: string, d: number[]) => (conv.attrs[a]?.type === 'ints' ? (conv.attrs[a] as { value: number[] }).value : d);
  const strides = ints('strides', ks.map(() => 1));
  const dilation = ints('dilations', ks.map(() => 1));
  // the gates: the Split after the first step's sum, its i and candidate read by the activations
  const splitOf = (v: string): Node | undefined => {
    for (const c of m.consumers.get(v) ?? []) {
      if (c.opType === 'Split') return c;
      if (c.opType === 'Add') return splitOf(c.outputs[0]!);
    }
    return undefined;
  };
  const split = splitOf(conv.outputs[0]!);
  if (!split || split.outputs.length !== 4) return undefined;
  const recAct = activationOn(m, split.outputs[0]!);
  const act = activationOn(m, split.outputs[2]!);
  if (!recAct || !act) return undefined;
  const alphas = [recAct.alpha, act.alpha].filter((a): a is number => a !== undefined);
  const keras3 = alphas.length > 0 && Math.abs(alphas[0]! - 1 / 6) < 1e-6;
  if (alphas.some((a) => Math.abs(a - (keras3 ? 1 / 6 : 0.2)) > 1e-6)) return undefined;
  // the recurrent kernel: the conv added to any step's input conv (none when one step and no initial state: any value)
  let recurrent: Tensor | undefined;
  for (const s of gathers) {
    const ic = (w.consumers.get(s.outputs[0]!) ?? []).find((c) => c.domain === 'nnport' && c.opType === 'Conv');
    const add = ic && (m.consumers.get(ic.outputs[0]!) ?? []).find((c) => c.opType === 'Add');
    const other = add && add.inputs.find((i) => i !== ic!.outputs[0]);
    const rc = other ? m.nodes.find((n) => n.outputs[0] === other && n.domain === 'nnport' && n.opType === 'Conv') : undefined;
    if (rc) {
      recurrent = m.constant(rc.inputs[1]!);
      break;
    }
  }
  const recurrentKernel = recurrent ?? Tensor.float32([...ks, F, 4 * F], new Float32Array(ks.reduce((a, b) => a * b, 1) * F * 4 * F));
  if (recurrentKernel.rank !== rank + 2 || recurrentKernel.shape[rank] !== F) return undefined;
  const weights = new Map<string, Tensor>([['kernel', kernel], ['recurrent_kernel', recurrentKernel], ...(bias ? [['bias', bias] as [string, Tensor]] : [])]);
  const xv: KValue = { name: x, shape };
  for (const padding of ['same', 'valid']) {
    for (const goBackwards of [false, true]) {
      for (const states of [false, true]) {
        for (const returnSequences of [true, false]) {
          const config: JsonObject = {
            filters: F, kernel_size: ks, strides, padding, data_format: 'channels_last', dilation_rate: dilation,
            activation: act.name, recurrent_activation: recAct.name, use_bias: !!bias,
            return_sequences: returnSequences, return_state: true, go_backwards: goBackwards,
          };
          const stateShape = [null, ...shape.slice(2, 2 + rank).map(() => null), F];
          const inputs: KValue[] = [xv, ...(states ? [{ name: '\u0000h0', shape: stateShape }, { name: '\u0000c0', shape: stateShape }] : [])];
          let scratch: Regenerated;
          try {
            scratch = regenerate({ className, name: 'convlstm', config, inputs, weights }, keras3);
          } catch {
            continue;
          }
          const bound = new Map<string, string>([[x, x]]);
          const nodes = match(m, scratch, bound, new Set(states ? ['\u0000h0', '\u0000c0'] : []));
          if (!nodes) continue;
          // no value inside the steps is read outside them, but the outputs
          const [out, h, c] = scratch.outputs.map((o) => bound.get(o.name)!);
          const outside = (v: string) => m.outputs.has(v) || (m.consumers.get(v) ?? []).some((r) => !nodes.has(r));
          const leaks = [...nodes].flatMap((n) => n.outputs).filter((v) => v && outside(v) && v !== out && v !== h && v !== c);
          if (leaks.length) continue;
          const returnState = (h !== out && outside(h!)) || outside(c!);
          const cfg: JsonObject = { ...config, return_state: returnState };
          return {
            className,
            nodes,
            inputs: [x, ...(states ? [bound.get('\u0000h0')!, bound.get('\u0000c0')!] : [])],
            outputs: returnState ? [out, h, c] : [out],
            config: cfg,
            weights: [...weights].map(([role, tensor]) => ({ role, tensor })),
            shape: scratch.outputs[0]!.shape,
            stateShape: scratch.outputs[1]!.shape,
            keras3,
          };
        }
      }
    }
  }
  return undefined;
}

/** Keras 2 / TF.js and Keras 3 config keys of a ConvLSTM layer (as tf.keras 2.15 and Keras 3.10 write them). */
function layerConfig(plan: ConvLstmPlan, keras3: boolean): JsonObject {
  const c = plan.config;
  return {
    return_sequences: c.return_sequences!, return_state: c.return_state!, go_backwards: c.go_backwards!, stateful: false, unroll: false,
    ...(keras3 ? { zero_output_for_mask: c.return_sequences! } : { time_major: false }),
    filters: c.filters!, kernel_size: c.kernel_size!, strides: c.strides!, padding: c.padding!, data_format: 'channels_last', dilation_rate: c.dilation_rate!,
    activation: c.activation!, recurrent_activation: c.recurrent_activation!, use_bias: c.use_bias!, unit_forget_bias: true, dropout: 0, recurrent_dropout: 0,
    ...(keras3 ? { seed: null } : {}),
  };
}

/**
 * The weights for the target's hard_sigmoid: steps computed with the other Keras' (0.2x + 0.5 vs
 * x/6 + 0.5) have the i, f, o gates' kernel, recurrent kernel and bias columns scaled by the ratio
 * of the two slopes (the gate sums are linear in them); a hard_sigmoid `activation` (on the cell
 * state too, which no weight scales) is refused.
 */
function targetWeights(plan: ConvLstmPlan, keras3: boolean): { role: string; tensor: Tensor }[] {
  if (plan.keras3 === keras3 || plan.config.recurrent_activation !== 'hard_sigmoid') {
    if (plan.keras3 !== keras3 && plan.config.activation === 'hard_sigmoid') refuseHardSigmoid(plan, keras3);
    return plan.weights;
  }
  if (plan.config.activation === 'hard_sigmoid') refuseHardSigmoid(plan, keras3);
  const factor = plan.keras3 ? (1 / 6) / 0.2 : 0.2 / (1 / 6);
  const F = plan.config.filters as number;
  return plan.weights.map(({ role, tensor }) => {
    const v = tensor.toFloat32().slice();
    for (let k = 0; k < v.length; k++) {
      const col = k % (4 * F);
      if (col < 2 * F || col >= 3 * F) v[k] = v[k]! * factor;
    }
    return { role, tensor: Tensor.float32([...tensor.shape] as number[], v) };
  });
}

function refuseHardSigmoid(plan: ConvLstmPlan, keras3: boolean): never {
  throw new UnsupportedError(`${plan.className} with a ${plan.keras3 ? 'Keras 3' : 'Keras 2 / TF.js'} hard_sigmoid activation in a ${keras3 ? 'Keras 3' : 'Keras 2 / TF.js'} model`, `layer '${plan.config.name ?? plan.className}': the two Keras' hard_sigmoid differ (0.2x + 0.5, x/6 + 0.5) and no weight scales the cell state's`);
}

/** The layer of `plan` once its inputs have Keras tensors (called at each of its nodes in the writer's order). */
export function emitConvLstm(w: Writer, plan: ConvLstmPlan): void {
  if (plan.emitted) return;
  const ins = plan.inputs.map((v) => w.values.get(v));
  if (ins.some((t) => !t)) return;
  plan.emitted = true;
  const keras3 = !!w.options.keras3;
  const name = w.name(plan.outputs[0]!);
  w.layers.push({
    className: plan.className,
    name,
    config: { name, trainable: true, dtype: 'float32', ...layerConfig(plan, keras3) },
    inputs: (ins as KTensor[]).map((t) => t.ref),
    weights: targetWeights(plan, keras3),
    shape: plan.shape,
    stateShape: plan.stateShape,
    ...(ins.length > 1 ? { initialStates: ins.length - 1 } : {}),
  });
  plan.outputs.forEach((v, i) => {
    if (v) w.values.set(v, { ref: [name, 0, i], shape: i === 0 ? plan.shape : plan.stateShape });
  });
}

/**
 * A Gather of one time step feeding a channels-last Conv that findConvLstms did not take: the step of
 * a ConvLSTM the Keras reader unrolled that the writer cannot give back as one layer; refused by name.
 */
export function refuseConvLstmStep(w: Writer, n: Node): void {
  const conv = (w.consumers.get(n.outputs[0]!) ?? []).some((c) => c.domain === 'nnport' && c.opType === 'Conv' && c.inputs[0] === n.outputs[0]);
  if (n.domain || n.opType !== 'Gather' || attrInt(n, 'axis', 0) !== 1 || !conv || w.constant(n.inputs[1]!)?.rank !== 0) return;
  throw new UnsupportedError(
    'a ConvLSTM unrolled over its steps (Keras ConvLSTM1D / 2D / 3D as nnport reads it) that is not one ConvLSTM layer in a Keras model',
    `node '${n.name || n.outputs[0]}': the writer gives back a ConvLSTM layer whose steps equal the layer's own (channels_last or channels_first, any padding, strides, dilation, go_backwards, initial states, return_sequences / return_state); a Bidirectional ConvLSTM, or steps that a pass changed, are not written`,
  );
}

// TF1 graphs for the control-flow tests, written node by node as TF1's tf.cond and tf.while_loop
// emit them (cond/Switch, cond/switch_t, cond/pred_id, cond/mul/Switch, cond/Merge; while/Enter,
// while/Merge, while/LoopCond, while/Switch, while/Identity, while/NextIteration, while/Exit;
// Consts hung on the pivot by a control input), as TF.js graph-model JSON + weights and as a
// binary GraphDef of the same nodes, and run by TensorFlow.js' graph-model executor.
import * as tf from '@tensorflow/tfjs';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { Tensor } from '../../../src/ir/tensor.js';

export type DT = 'DT_FLOAT' | 'DT_INT32' | 'DT_BOOL';
const DT_NUM: Record<DT, number> = { DT_FLOAT: 1, DT_INT32: 3, DT_BOOL: 10 };
export type AttrSpec = { type: DT } | { s: string } | { b: boolean } | { i: number } | { shape: number[] } | { f: number };

export interface NodeSpec {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, AttrSpec>;
  /** Const nodes: the value */
  value?: { dtype: 'float32' | 'int32'; shape: number[]; data: number[] };
}

export interface Tf1Model {
  nodes: NodeSpec[];
  outputs: string[];
}

const T = (t: DT): Record<string, AttrSpec> => ({ T: { type: t } });

/** Node constructors in TF1's spelling. */
export const tf1 = {
  ph: (name: string, shape: number[], dtype: DT = 'DT_FLOAT'): NodeSpec => ({ name, op: 'Placeholder', attr: { dtype: { type: dtype }, shape: { shape } } }),
  cst: (name: string, dtype: 'float32' | 'int32', shape: number[], data: number[], control: string[] = []): NodeSpec => ({
    name,
    op: 'Const',
    input: control.map((c) => `^${c}`),
    value: { dtype, shape, data },
  }),
  op: (name: string, op: string, input: string[], t: DT = 'DT_FLOAT', attr: Record<string, AttrSpec> = {}): NodeSpec => ({ name, op, input, attr: { ...T(t), ...attr } }),
  sw: (name: string, data: string, pred: string, t: DT = 'DT_FLOAT'): NodeSpec => ({ name, op: 'Switch', input: [data, pred], attr: T(t) }),
  merge: (name: string, a: string, b: string, t: DT = 'DT_FLOAT'): NodeSpec => ({ name, op: 'Merge', input: [a, b], attr: { ...T(t), N: { i: 2 } } }),
  enter: (name: string, x: string, frame: string, constant: boolean, t: DT = 'DT_FLOAT'): NodeSpec => ({
    name,
    op: 'Enter',
    input: [x],
    attr: { ...T(t), frame_name: { s: frame }, is_constant: { b: constant }, parallel_iterations: { i: 10 } },
  }),
};

/**
 * The nodes tf.cond(pred, ...) makes before its branches: cond/Switch, the pivots
 * cond/switch_t and cond/switch_f, and cond/pred_id.
 */
export function condHead(scope: string, pred: string): NodeSpec[] {
  return [
    tf1.sw(`${scope}/Switch`, pred, pred, 'DT_BOOL'),
    tf1.op(`${scope}/switch_t`, 'Identity', [`${scope}/Switch:1`], 'DT_BOOL'),
    tf1.op(`${scope}/switch_f`, 'Identity', [`${scope}/Switch`], 'DT_BOOL'),
    tf1.op(`${scope}/pred_id`, 'Identity', [pred], 'DT_BOOL'),
  ];
}

/**
 * A loop variable of tf.while_loop as TF1 names it (k = '' for the first, '_1', ...): Enter,
 * Merge(Enter, NextIteration), Switch(Merge, LoopCond), Identity(Switch:1), NextIteration of
 * `next`, Exit(Switch).
 */
export function loopVar(scope: string, k: string, init: string, next: string, t: DT = 'DT_FLOAT', frame = `${scope}/while_context`): NodeSpec[] {
  return [
    tf1.enter(`${scope}/Enter${k}`, init, frame, false, t),
    tf1.merge(`${scope}/Merge${k}`, `${scope}/Enter${k}`, `${scope}/NextIteration${k}`, t),
    tf1.sw(`${scope}/Switch${k}`, `${scope}/Merge${k}`, `${scope}/LoopCond`, t),
    tf1.op(`${scope}/Identity${k}`, 'Identity', [`${scope}/Switch${k}:1`], t),
    tf1.op(`${scope}/NextIteration${k}`, 'NextIteration', [next], t),
    tf1.op(`${scope}/Exit${k}`, 'Exit', [`${scope}/Switch${k}`], t),
  ];
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const shapeJson = (s: number[]) => ({ dim: s.map((d) => ({ size: String(d) })) });
function attrJson(a: AttrSpec): unknown {
  if ('type' in a) return { type: a.type };
  if ('s' in a) return { s: b64(a.s) };
  if ('b' in a) return { b: a.b };
  if ('i' in a) return { i: String(a.i) };
  if ('f' in a) return { f: a.f };
  return { shape: shapeJson(a.shape) };
}
function attrProto(a: AttrSpec): tensorflow.AttrValue.$Properties {
  if ('type' in a) return { type: DT_NUM[a.type] };
  if ('s' in a) return { s: new TextEncoder().encode(a.s) };
  if ('b' in a) return { b: a.b };
  if ('i' in a) return { i: a.i };
  if ('f' in a) return { f: a.f };
  return { shape: { dim: a.shape.map((d) => ({ size: d })) } };
}
const constBytes = (v: NonNullable<NodeSpec['value']>): Uint8Array => new Uint8Array((v.dtype === 'float32' ? Float32Array.from(v.data) : Int32Array.from(v.data)).buffer);

/** The TF.js graph-model JSON and its weights (every Const by node name). */
export function tfjsModel(m: Tf1Model): { json: Record<string, unknown>; bin: Uint8Array; specs: { name: string; shape: number[]; dtype: string }[] } {
  const specs: { name: string; shape: number[]; dtype: string }[] = [];
  const chunks: Uint8Array[] = [];
  const nodes = m.nodes.map((n) => {
    const attr: Record<string, unknown> = Object.fromEntries(Object.entries(n.attr ?? {}).map(([k, v]) => [k, attrJson(v)]));
    if (n.value) {
      const dt = n.value.dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32';
      attr.dtype = { type: dt };
      attr.value = { tensor: { dtype: dt, tensorShape: shapeJson(n.value.shape) } };
      specs.push({ name: n.name, shape: n.value.shape, dtype: n.value.dtype });
      chunks.push(constBytes(n.value));
    }
    return { name: n.name, op: n.op, input: n.input ?? [], attr };
  });
  const bin = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    bin.set(c, o);
    o += c.length;
  }
  const json = {
    format: 'graph-model',
    generatedBy: '1.15.5',
    convertedBy: 'nnport test',
    modelTopology: { node: nodes, library: {}, versions: { producer: 134 } },
    weightsManifest: [{ paths: ['w.bin'], weights: specs }],
  };
  return { json, bin, specs };
}

/** The same graph as a binary GraphDef (Consts with tensor_content). */
export function graphDefBytes(m: Tf1Model): Uint8Array {
  const node = (n: NodeSpec): tensorflow.NodeDef.$Properties => {
    const attr: Record<string, tensorflow.AttrValue.$Properties> = Object.fromEntries(Object.entries(n.attr ?? {}).map(([k, v]) => [k, attrProto(v)]));
    if (n.value) {
      const dt = n.value.dtype === 'float32' ? 1 : 3;
      attr.dtype = { type: dt };
      attr.value = { tensor: { dtype: dt, tensor_shape: { dim: n.value.shape.map((d) => ({ size: d })) }, tensor_content: constBytes(n.value) } };
    }
    return { name: n.name, op: n.op, input: n.input ?? [], attr };
  };
  return tensorflow.GraphDef.encode({ node: m.nodes.map(node), versions: { producer: 134 } }).finish();
}

/** TensorFlow.js' graph-model executor (executeAsync: it runs TF1 dataflow control flow) on `feeds`. */
export async function tfjsRun(m: Tf1Model, feeds: Record<string, Tensor>): Promise<Tensor[]> {
  const { json, bin, specs } = tfjsModel(m);
  const model = await tf.loadGraphModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology as object, weightSpecs: specs as tf.io.WeightsManifestEntry[], weightData: bin.buffer.slice(0) as ArrayBuffer, format: 'graph-model' }),
  );
  const dtypeOf = (t: Tensor) => (t.dtype === 'int32' ? 'int32' : t.dtype === 'bool' ? 'bool' : 'float32');
  const inputs = Object.fromEntries(
    Object.entries(feeds).map(([k, t]) => [k, tf.tensor(t.dtype === 'float32' ? t.toFloat32() : Int32Array.from(t.toNumbers()), [...t.shape], dtypeOf(t))]),
  );
  const outs = (await model.executeAsync(inputs, m.outputs)) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(outs) ? outs : [outs];
  const res = await Promise.all(list.map(async (t) => new Tensor('float32', t.shape, Float32Array.from(await t.data()))));
  tf.dispose([...Object.values(inputs), ...list]);
  model.dispose();
  return res;
}

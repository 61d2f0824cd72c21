// TensorFlow graphs written by hand in tests, as TF.js' converter writes a graph model
// (model.json: FunctionDef spelling {signature {name, inputArg, outputArg}, nodeDef, ret}, every
// Const's value in the weights) and as a binary GraphDef of the same nodes, and TensorFlow.js'
// own graph-model executor (executeAsync) as the oracle that runs them.
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { convert, loadModel, loadModelFiles, run } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { ortRun } from '../../support/ort.js';
import type { TfliteOracle } from '../../support/tflite-oracle.js';
import { tfliteOpNames } from '../../support/tflite-test.js';
import { rng } from '../../support/rng.js';
import { maxAbsDiff } from '../../support/error-metrics.js';

export type DT = 'DT_FLOAT' | 'DT_INT32' | 'DT_BOOL' | 'DT_RESOURCE' | 'DT_VARIANT';
export const DT_NUM: Record<DT, number> = { DT_FLOAT: 1, DT_INT32: 3, DT_BOOL: 10, DT_RESOURCE: 20, DT_VARIANT: 21 };
export type AttrSpec =
  | { type: DT }
  | { types: DT[] }
  | { func: string }
  /** 'unknown': a shape of unknown rank */
  | { shape: number[] | 'unknown' }
  | { shapes: number[][] }
  | { s: string }
  | { i: number }
  | { f: number }
  | { b: boolean }
  | { ints: number[] }
  | { strings: string[] };
export interface NodeSpec {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, AttrSpec>;
  /** Const nodes: the value */
  value?: { dtype: 'float32' | 'int32'; shape: number[]; data: number[] };
}
export interface FnSpec {
  name: string;
  inputs: [string, DT][];
  outputs: [string, DT][];
  nodes: NodeSpec[];
  ret: Record<string, string>;
}
export interface ModelSpec {
  nodes: NodeSpec[];
  functions: FnSpec[];
  outputs: string[];
}

export const F: { T: AttrSpec } = { T: { type: 'DT_FLOAT' } };
export const I: { T: AttrSpec } = { T: { type: 'DT_INT32' } };
export const ph = (name: string, shape: number[], dtype: DT = 'DT_FLOAT'): NodeSpec => ({ name, op: 'Placeholder', attr: { dtype: { type: dtype }, shape: { shape } } });
export const cst = (name: string, dtype: 'float32' | 'int32', shape: number[], data: number[]): NodeSpec => ({ name, op: 'Const', value: { dtype, shape, data } });
export const op = (name: string, o: string, input: string[], attr: Record<string, AttrSpec> = F): NodeSpec => ({ name, op: o, input, attr });

export const shapeJson = (s: number[] | 'unknown') => (s === 'unknown' ? { unknownRank: true } : { dim: s.map((d) => ({ size: String(d) })) });
const b64 = (t: string): string => Buffer.from(t).toString('base64');
export function attrJson(a: AttrSpec): unknown {
  if ('s' in a) return { s: b64(a.s) };
  if ('i' in a) return { i: String(a.i) };
  if ('f' in a) return { f: a.f };
  if ('b' in a) return { b: a.b };
  if ('ints' in a) return { list: { i: a.ints.map(String) } };
  if ('strings' in a) return { list: { s: a.strings.map(b64) } };
  if ('type' in a) return { type: a.type };
  if ('types' in a) return { list: { type: a.types } };
  if ('func' in a) return { func: { name: a.func } };
  if ('shape' in a) return { shape: shapeJson(a.shape) };
  return { list: { shape: a.shapes.map(shapeJson) } };
}
export function attrProto(a: AttrSpec): tensorflow.AttrValue.$Properties {
  const sp = (s: number[] | 'unknown') => (s === 'unknown' ? { unknown_rank: true } : { dim: s.map((d) => ({ size: d })) });
  const bytes = (t: string) => new TextEncoder().encode(t);
  if ('s' in a) return { s: bytes(a.s) };
  if ('i' in a) return { i: a.i };
  if ('f' in a) return { f: a.f };
  if ('b' in a) return { b: a.b };
  if ('ints' in a) return { list: { i: a.ints } };
  if ('strings' in a) return { list: { s: a.strings.map(bytes) } };
  if ('type' in a) return { type: DT_NUM[a.type] };
  if ('types' in a) return { list: { type: a.types.map((t) => DT_NUM[t]) } };
  if ('func' in a) return { func: { name: a.func } };
  if ('shape' in a) return { shape: sp(a.shape) };
  return { list: { shape: a.shapes.map(sp) } };
}
export const constBytes = (v: NonNullable<NodeSpec['value']>): Uint8Array => new Uint8Array((v.dtype === 'float32' ? Float32Array.from(v.data) : Int32Array.from(v.data)).buffer);

/** The TF.js graph-model JSON and its weights (every Const, the functions' too, by node name). */
export function tfjsModel(m: ModelSpec): { json: Record<string, unknown>; bin: Uint8Array; specs: { name: string; shape: number[]; dtype: string }[] } {
  const specs: { name: string; shape: number[]; dtype: string }[] = [];
  const chunks: Uint8Array[] = [];
  const node = (n: NodeSpec) => {
    const attr: Record<string, unknown> = Object.fromEntries(Object.entries(n.attr ?? {}).map(([k, v]) => [k, attrJson(v)]));
    if (n.value) {
      const dt = n.value.dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32';
      attr.dtype = { type: dt };
      attr.value = { tensor: { dtype: dt, tensorShape: shapeJson(n.value.shape) } };
      specs.push({ name: n.name, shape: n.value.shape, dtype: n.value.dtype });
      chunks.push(constBytes(n.value));
    }
    return { name: n.name, op: n.op, input: n.input ?? [], attr };
  };
  const nodes = m.nodes.map(node);
  const fns = m.functions.map((f) => ({
    signature: { name: f.name, inputArg: f.inputs.map(([name, type]) => ({ name, type })), outputArg: f.outputs.map(([name, type]) => ({ name, type })) },
    nodeDef: f.nodes.map(node),
    ret: f.ret,
  }));
  const bin = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    bin.set(c, o);
    o += c.length;
  }
  const json = {
    format: 'graph-model',
    generatedBy: 'nnport test',
    convertedBy: 'nnport test',
    modelTopology: { node: nodes, library: { function: fns }, versions: { producer: 1395 } },
    weightsManifest: [{ paths: ['w.bin'], weights: specs }],
  };
  return { json, bin, specs };
}

/** The same graph as a binary GraphDef (Consts with tensor_content). */
export function graphDefBytes(m: ModelSpec): Uint8Array {
  const node = (n: NodeSpec): tensorflow.NodeDef.$Properties => {
    const attr: Record<string, tensorflow.AttrValue.$Properties> = Object.fromEntries(Object.entries(n.attr ?? {}).map(([k, v]) => [k, attrProto(v)]));
    if (n.value) {
      const dt = n.value.dtype === 'float32' ? 1 : 3;
      attr.dtype = { type: dt };
      attr.value = { tensor: { dtype: dt, tensor_shape: { dim: n.value.shape.map((d) => ({ size: d })) }, tensor_content: constBytes(n.value) } };
    }
    return { name: n.name, op: n.op, input: n.input ?? [], attr };
  };
  const gd: tensorflow.GraphDef.$Properties = {
    node: m.nodes.map(node),
    library: {
      function: m.functions.map((f) => ({
        signature: { name: f.name, input_arg: f.inputs.map(([name, t]) => ({ name, type: DT_NUM[t] })), output_arg: f.outputs.map(([name, t]) => ({ name, type: DT_NUM[t] })) },
        node_def: f.nodes.map(node),
        ret: f.ret,
      })),
    },
  };
  return tensorflow.GraphDef.encode(gd).finish();
}

export type Feed = Record<string, Tensor>;

export async function tfjsRun(m: ModelSpec, feeds: Feed): Promise<Tensor[]> {
  const { json, bin, specs } = tfjsModel(m);
  const model = await tf.loadGraphModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology as object, weightSpecs: specs as tf.io.WeightsManifestEntry[], weightData: bin.buffer.slice(0) as ArrayBuffer, format: 'graph-model' }),
  );
  const dtype = (t: Tensor) => (t.dtype === 'int32' || t.dtype === 'bool' ? t.dtype : 'float32');
  const inputs = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, tf.tensor(dtype(t) === 'float32' ? t.toFloat32() : Int32Array.from(t.toNumbers()), [...t.shape], dtype(t))]));
  const outs = (await model.executeAsync(inputs, m.outputs)) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(outs) ? outs : [outs];
  const res = await Promise.all(list.map(async (t) => new Tensor('float32', t.shape, Float32Array.from(await t.data()))));
  tf.dispose([...Object.values(inputs), ...list]);
  model.dispose();
  return res;
}

/** A seeded uniform [-1, 1) float32 feed. */
export const f32 = (shape: number[], seed: number): Tensor => {
  const r = rng(seed);
  return new Tensor('float32', shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1));
};
export const scalarF = (v: number) => new Tensor('float32', [], Float32Array.of(v));
export const scalarI = (v: number) => new Tensor('int32', [], Int32Array.of(v));

/** nnport's runtime on a graph: its outputs in order. */
export async function nnportRun(g: Graph, feeds: Feed): Promise<Tensor[]> {
  const r = await run(g, feeds);
  return g.outputs.map((o) => r.outputs.get(o.name)!);
}

/** onnxruntime-node on the .onnx nnport writes for a graph: its outputs in order. */
export async function ortRunAll(g: Graph, feeds: Feed): Promise<Tensor[]> {
  const { bytes } = await convert({ kind: 'graph', format: 'tfjs-graph', graph: g }, 'model.onnx');
  return [...(await ortRun(bytes, feeds)).values()];
}

/**
 * The harness of a test file on hand-written graphs: TensorFlow.js on its CPU backend and a temp
 * dir (made before the file's tests, removed after) that the TF.js model files are read from.
 * `pbName`: the file name the binary GraphDef reads are given; `tflite`: the file's TFLite oracle
 * (useTfliteOracle), for checkTflite.
 */
export function useTfGraphHarness(dirPrefix: string, pbName: string, tflite?: Pick<TfliteOracle, 'run'>) {
  let dir = '';
  let counter = 0;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), dirPrefix));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The graph nnport reads from the TF.js graph-model files (model.json + w.bin). */
  async function nnportGraph(m: ModelSpec, set?: Record<string, number>): Promise<Graph> {
    const { json, bin } = tfjsModel(m);
    const sub = join(dir, `m${counter++}`);
    mkdirSync(sub);
    writeFileSync(join(sub, 'model.json'), JSON.stringify(json));
    writeFileSync(join(sub, 'w.bin'), bin);
    const model = await loadModelFiles([join(sub, 'model.json')], { outputs: m.outputs, set });
    if (model.kind !== 'graph') throw new Error('not a graph');
    return model.graph;
  }

  /** The graph nnport reads from the binary GraphDef. */
  async function pbGraph(m: ModelSpec, set?: Record<string, number>): Promise<Graph> {
    const model = await loadModel(graphDefBytes(m), { fileName: pbName, outputs: m.outputs, set });
    if (model.kind !== 'graph') throw new Error('not a graph');
    return model.graph;
  }

  /** nnport (TF.js JSON and GraphDef reads) and onnxruntime against TensorFlow.js (on `oracleModel`) on every feed; the worst difference. */
  async function check(m: ModelSpec, feedSets: Feed[], oracleModel = m): Promise<number> {
    const g = await nnportGraph(m);
    const pb = await pbGraph(m);
    let worst = 0;
    for (const feeds of feedSets) {
      const want = await tfjsRun(oracleModel, feeds);
      for (const got of [await nnportRun(g, feeds), await nnportRun(pb, feeds), await ortRunAll(g, feeds)]) {
        expect(got.length).toBe(want.length);
        for (const [i, w] of want.entries()) {
          expect(got[i]!.shape).toEqual(w.shape);
          const d = maxAbsDiff(got[i]!.toFloat32(), w.toFloat32());
          worst = Math.max(worst, d);
          expect(d).toBeLessThan(1e-5);
        }
      }
    }
    return worst;
  }

  /**
   * The .tflite nnport writes (counted loops unrolled) in the TFLite interpreter, fed `inputs` in
   * order, against TensorFlow.js (on `oracleModel`): shapes equal, each difference < 1e-5; the
   * worst difference and the file's op names.
   */
  async function checkTflite(m: ModelSpec, feeds: Feed, inputs = Object.keys(feeds), oracleModel = m): Promise<{ worst: number; ops: string[] }> {
    if (!tflite) throw new Error('useTfGraphHarness: no TFLite oracle given');
    const g = await nnportGraph(m);
    const tfl = await convert({ kind: 'graph', format: 'tfjs-graph', graph: g }, 'model.tflite');
    const ops = tfliteOpNames(tfl.bytes, 'model');
    const got = await tflite.run(tfl.bytes, inputs.map((k) => feeds[k]!.toFloat32()));
    const want = await tfjsRun(oracleModel, feeds);
    expect(got.length).toBe(want.length);
    let worst = 0;
    for (const [i, w] of want.entries()) {
      expect(got[i]!.shape).toEqual(w.shape);
      const d = maxAbsDiff(got[i]!.data as Float32Array, w.toFloat32());
      worst = Math.max(worst, d);
      expect(d).toBeLessThan(1e-5);
    }
    return { worst, ops };
  }

  return { nnportGraph, pbGraph, check, checkTflite };
}

// TensorFlow.js graph models: model.json (`format: "graph-model"`) holds a GraphDef in
// protobuf's JSON mapping whose Const nodes carry only dtype and shape; their values come from
// the weightsManifest's binary shards (optionally uint8/uint16/float16-quantized). The nodes are
// rebuilt as NodeDefs and read through the same Graph -> IR mapping as a .pb, grappler's fused
// ops (_FusedConv2D, _FusedMatMul, FusedDepthwiseConv2dNative) included.
import { DTYPES, viewAs, type DType } from '../../ir/dtypes.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { float16BitsToFloat32 } from '../../ir/float16.js';
import { shapeSize, Tensor } from '../../ir/tensor.js';
import { tensorflow } from '../generated/tensorflow.js';
import type { GraphModel, ReadOptions } from '../model.js';
import { siblingFiles } from './checkpoint.js';
import type { AttrValue, GraphDef, NodeDef } from './graph-def.js';
import { nodeListing } from './listings.js';
import { tensorToTfProto } from './tensor-proto.js';
import { dtypeFromTf } from './data-types.js';
import { cast } from '../../runtime/ops/cast.js';
import { inlineFunctions, needsInlining } from './functions.js';
import { candidateOutputs, graphDefToIr } from './to-ir.js';
import type { Dim } from '../../ir/graph.js';

const text = new TextDecoder('utf-8');

/** A graph-model model.json: `"format": "graph-model"`, or a modelTopology that is a GraphDef (a "node" list). */
export function detectTfjsGraph(head: Uint8Array): boolean {
  const s = text.decode(head).replace(/^\uFEFF/, '').trimStart();
  if (!s.startsWith('{')) return false;
  return /"format"\s*:\s*"graph-model"/.test(s) || /"modelTopology"\s*:\s*\{\s*"node"\s*:/.test(s);
}

type Json = Record<string, unknown>;

const DT = tensorflow.DataType as unknown as Record<string, number>;

function dataType(v: unknown, where: string, file: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && DT[v] !== undefined) return DT[v]!;
  throw new FormatError(`${where}: unknown dtype ${JSON.stringify(v)}`, { file });
}

// atob: in Node and browsers alike (no Buffer); its DOMException becomes a FormatError
const b64 = (s: unknown, file: string): Uint8Array => {
  if (typeof s !== 'string') return new Uint8Array(0);
  try {
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  } catch {
    throw new FormatError(`invalid base64 string ${JSON.stringify(s.slice(0, 32))} in the graph`, { file });
  }
};
const int = (v: unknown): number => (typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : 0);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function shapeJson(v: unknown): tensorflow.TensorShapeProto.$Properties {
  const o = (v ?? {}) as Json;
  return { dim: arr(o.dim).map((d) => ({ size: int((d as Json).size), name: (d as Json).name as string | undefined })), unknown_rank: !!o.unknownRank };
}

function tensorJson(v: unknown, where: string, file: string): tensorflow.TensorProto.$Properties {
  const o = (v ?? {}) as Json;
  return {
    dtype: dataType(o.dtype ?? 'DT_FLOAT', where, file),
    tensor_shape: shapeJson(o.tensorShape),
    tensor_content: b64(o.tensorContent, file),
    float_val: arr(o.floatVal).map(Number),
    double_val: arr(o.doubleVal).map(Number),
    int_val: arr(o.intVal).map(int),
    int64_val: arr(o.int64Val).map(int),
    bool_val: arr(o.boolVal).map(Boolean),
    half_val: arr(o.halfVal).map(int),
    string_val: arr(o.stringVal).map((x) => b64(x, file)),
  };
}

function attrJson(v: unknown, where: string, file: string): AttrValue {
  const o = (v ?? {}) as Json;
  if (o.list !== undefined) {
    const l = (o.list ?? {}) as Json;
    return {
      list: {
        s: arr(l.s).map((x) => b64(x, file)),
        i: arr(l.i).map(int),
        f: arr(l.f).map(Number),
        b: arr(l.b).map(Boolean),
        type: arr(l.type).map((t) => dataType(t, where, file)),
        shape: arr(l.shape).map(shapeJson),
        tensor: arr(l.tensor).map((t) => tensorJson(t, where, file)),
      },
    };
  }
  if (o.s !== undefined) return { s: b64(o.s, file) };
  if (o.i !== undefined) return { i: int(o.i) };
  if (o.f !== undefined) return { f: Number(o.f) };
  if (o.b !== undefined) return { b: !!o.b };
  if (o.type !== undefined) return { type: dataType(o.type, where, file) };
  if (o.shape !== undefined) return { shape: shapeJson(o.shape) };
  if (o.tensor !== undefined) return { tensor: tensorJson(o.tensor, where, file) };
  if (o.func !== undefined) return { func: { name: String((o.func as Json).name ?? '') } };
  return {};
}

const WEIGHT_DTYPES: Record<string, DType> = { float32: 'float32', int32: 'int32', bool: 'bool', float16: 'float16', uint8: 'uint8', int8: 'int8', int16: 'int16', uint16: 'uint16', int64: 'int64', complex64: 'float32' };

/** Every weight of the manifest, read from its group's shards in order. */
async function readWeights(manifest: unknown, read: (name: string) => Promise<Uint8Array>, file: string): Promise<Map<string, Tensor>> {
  const out = new Map<string, Tensor>();
  for (const [g, group] of arr(manifest).entries()) {
    const gj = group as Json;
    const shards = await Promise.all(arr(gj.paths).map((p) => read(String(p))));
    const total = shards.reduce((a, s) => a + s.length, 0);
    const data = shards.length === 1 ? shards[0]! : new Uint8Array(total);
    if (shards.length > 1) {
      let o = 0;
      for (const s of shards) {
        data.set(s, o);
        o += s.length;
      }
    }
    let offset = 0;
    for (const w of arr(gj.weights)) {
      const wj = w as Json;
      const name = String(wj.name ?? '');
      const where = `weight '${name}' (group ${g})`;
      const shape = arr(wj.shape).map(int);
      if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new FormatError(`${where} has shape ${JSON.stringify(wj.shape)}`, { file });
      const count = shapeSize(shape);
      const dtype = WEIGHT_DTYPES[String(wj.dtype)];
      if (!dtype || wj.dtype === 'complex64') throw new UnsupportedError(`TensorFlow.js weights of dtype ${String(wj.dtype)}`, `${where} in '${file}'`);
      const q = wj.quantization as Json | undefined;
      if (q && dtype !== 'float32') throw new UnsupportedError(`quantized TensorFlow.js weights of dtype ${dtype}`, `${where} in '${file}'`);
      const stored: DType = q ? (WEIGHT_DTYPES[String(q.dtype)] ?? 'float32') : dtype;
      const bytes = count * DTYPES[stored].bytes;
      if (!Number.isSafeInteger(bytes) || offset + bytes > data.length) {
        throw new FormatError(`${where} needs ${bytes} bytes at ${offset}, the shards of its group hold ${data.length}`, { file });
      }
      const raw = data.subarray(offset, offset + bytes);
      offset += bytes;
      if (!q) {
        out.set(name, new Tensor(dtype, shape, viewAs(dtype, raw, count)));
        continue;
      }
      // quantized weights: uint8/uint16 as v * scale + min, or float16 bits
      const f = new Float32Array(count);
      if (stored === 'float16') {
        const h = viewAs('float16', raw, count);
        for (let i = 0; i < count; i++) f[i] = float16BitsToFloat32(h[i] as number);
      } else {
        const v = viewAs(stored, raw, count);
        const scale = Number(q.scale ?? 1);
        const min = Number(q.min ?? 0);
        for (let i = 0; i < count; i++) f[i] = (v[i] as number) * scale + min;
      }
      out.set(name, new Tensor('float32', shape, f));
    }
  }
  return out;
}

export async function readTfjsGraph(bytes: Uint8Array, options: ReadOptions = {}): Promise<GraphModel> {
  const file = options.fileName ?? '<bytes>';
  let json: Json;
  try {
    json = JSON.parse(text.decode(bytes)) as Json;
  } catch (e) {
    throw new FormatError(`not valid JSON (${e instanceof Error ? e.message : String(e)})`, { file });
  }
  const topo = json.modelTopology as Json | undefined;
  if (!topo || !Array.isArray(topo.node)) throw new FormatError('a TensorFlow.js graph model needs modelTopology.node', { file });
  const files = siblingFiles(options);
  const weights = await readWeights(json.weightsManifest, (n) => files.read(n), file);
  const node = (n: unknown, i: number, fn?: string): NodeDef => {
    const nj = n as Json;
    const name = String(nj.name ?? '');
    const where = `node '${name || i}'${fn ? ` of function '${fn}'` : ''}`;
    const attr: Record<string, AttrValue> = {};
    for (const [k, v] of Object.entries((nj.attr ?? {}) as Json)) attr[k] = attrJson(v, `${where} attribute '${k}'`, file);
    // a Const's value is a weight of its name, in the functions too (TF.js looks them up in one map)
    const w = weights.get(name);
    // TF.js stores an int64 / float64 / float16 Const's values as int32 / float32: back to the node's dtype
    const declared = attr.dtype?.type != null ? dtypeFromTf(attr.dtype.type) : undefined;
    const value = w && declared && 'dtype' in declared && declared.dtype !== w.dtype && declared.dtype !== 'string' && w.dtype !== 'string' ? cast(w, declared.dtype) : w;
    if (nj.op === 'Const' && value) attr.value = { tensor: tensorToTfProto(value) };
    return { name, op: String(nj.op ?? ''), input: arr(nj.input).map(String), device: String(nj.device ?? ''), attr };
  };
  const nodes: NodeDef[] = arr(topo.node).map((n, i) => node(n, i));
  // the function library (tf.cond / tf.while_loop bodies): FunctionDefs in the JSON spelling of TF.js' converter
  const argJson = (a: unknown, fn: string): tensorflow.OpDef.ArgDef.$Properties => {
    const aj = (a ?? {}) as Json;
    const out: tensorflow.OpDef.ArgDef.$Properties = { name: String(aj.name ?? '') };
    if (aj.type !== undefined) out.type = dataType(aj.type, `argument '${String(aj.name ?? '')}' of function '${fn}'`, file);
    if (aj.numberAttr !== undefined) out.number_attr = String(aj.numberAttr);
    if (aj.typeListAttr !== undefined) out.type_list_attr = String(aj.typeListAttr);
    return out;
  };
  const functions = arr((topo.library as Json | undefined)?.function).map((f) => {
    const fj = (f ?? {}) as Json;
    const sig = (fj.signature ?? {}) as Json;
    const fn = String(sig.name ?? '');
    const ret: Record<string, string> = {};
    for (const [k, v] of Object.entries((fj.ret ?? {}) as Json)) ret[k] = String(v);
    return {
      signature: { name: fn, input_arg: arr(sig.inputArg).map((a) => argJson(a, fn)), output_arg: arr(sig.outputArg).map((a) => argJson(a, fn)) },
      node_def: arr(fj.nodeDef).map((n, i) => node(n, i, fn)),
      ret,
    };
  });
  const gd: GraphDef = functions.length ? { node: nodes, library: { function: functions } } : { node: nodes };
  const sig = json.signature as Json | undefined;
  const sigOutputs = Object.values((sig?.outputs ?? {}) as Json).map((o) => String((o as Json).name ?? '').replace(/:0$/, ''));
  const shapes = new Map<string, (Dim[] | undefined)[]>();
  const outputs = options.outputs?.length ? options.outputs : sigOutputs.length ? sigOutputs : undefined;
  const graph = graphDefToIr(needsInlining(gd) ? inlineFunctions(gd, { file, roots: outputs ?? candidateOutputs(nodes) }).graphDef : gd, {
    file,
    outputs,
    inputShapes: options.inputShapes,
    set: options.set,
    name: 'tfjs-graph',
    shapes,
  });
  return { kind: 'graph', format: 'tfjs-graph', graph, listings: [nodeListing(gd, shapes)] };
}

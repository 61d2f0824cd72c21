// ONNX ModelProto bytes -> IR Graph.
import { NnportError, FormatError, UnsupportedError } from '../../ir/errors.js';
import { isDerivedSymbol, type Attr, type Dim, type Graph, type GraphMetadata, type Node, type ValueInfo, type ValueKind } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { onnx } from '../generated/onnx.js';
import type { ReadOptions } from '../model.js';
import { guardProtobufDecode } from '../protobuf-peek.js';
import { dtypeFromOnnx } from './data-types.js';
import { ExternalDataReader, externalRef } from './external-data.js';
import { int64ToNumber, type Int64 } from './int64.js';
import { decodeUtf8, isExternal, tensorFromProto } from './tensor-proto.js';
import { MODEL, TENSOR } from './wire-schema.js';
import { typeSubgraphValues } from '../../ir/ops/subgraph-types.js';

type ModelProto = onnx.ModelProto.$Properties;
type GraphProto = onnx.GraphProto.$Properties;
type NodeProto = onnx.NodeProto.$Properties;
type AttributeProto = onnx.AttributeProto.$Properties;
type TensorProto = onnx.TensorProto.$Properties;
type ValueInfoProto = onnx.ValueInfoProto.$Properties;
type TypeProto = onnx.TypeProto.$Properties;

const AttributeType = onnx.AttributeProto.AttributeType;

interface Context {
  file: string;
  /** reading a subgraph (If/Loop/Scan body) rather than the main graph */
  nested: boolean;
  /** bytes of every externally stored tensor, read before conversion starts */
  external: Map<TensorProto, Uint8Array>;
  /** `domain::name` of the model-local functions */
  functions: Set<string>;
  opsets: Record<string, number>;
  /** subgraph inputs and outputs the file leaves untyped, typed once the whole graph is read */
  untyped: Set<ValueInfo>;
}

/** Read an ONNX model (ModelProto bytes) into the IR. External data is read through `options.readSibling`. */
export async function readOnnx(bytes: Uint8Array, options: ReadOptions = {}): Promise<Graph> {
  const file = options.fileName ?? '<bytes>';
  guardProtobufDecode(bytes, MODEL, file, 'ONNX model');
  const model = decode(() => onnx.ModelProto.decode(bytes), file, 'ONNX model');
  if (!model.graph) throw new FormatError('not an ONNX model: no graph', { file });
  const opsets = readOpsets(model);
  const ctx: Context = {
    file,
    nested: false,
    external: await readExternalData(model.graph, file, options),
    functions: new Set((model.functions ?? []).map((f) => `${f.domain ?? ''}::${f.name ?? ''}`)),
    opsets,
    untyped: new Set(),
  };
  const graph = readGraph(model.graph, ctx);
  if (ctx.untyped.size) {
    typeSubgraphValues(graph, ctx.untyped);
    const [v] = ctx.untyped;
    if (v) throw new UnsupportedError('untyped subgraph inputs and outputs', `'${v.name}' in '${file}': its type does not follow from the node around it`);
  }
  graph.metadata = readMetadata(model);
  return graph;
}

/**
 * Read one serialized TensorProto (the `input_0.pb` / `output_0.pb` files of the ONNX backend
 * tests). External data is not supported here.
 */
export function readTensorProto(bytes: Uint8Array, fileName = '<bytes>'): Tensor {
  guardProtobufDecode(bytes, TENSOR, fileName, 'ONNX TensorProto');
  const proto = decode(() => onnx.TensorProto.decode(bytes), fileName, 'ONNX TensorProto');
  const where = proto.name ? `tensor '${proto.name}'` : 'tensor';
  if (isExternal(proto)) throw new UnsupportedError('external data in a standalone TensorProto', `${where} in '${fileName}'`);
  return tensorFromProto(proto, where, fileName);
}

/** protobufjs throws RangeError/Error on malformed bytes; make that a FormatError naming the file. */
function decode<T>(fn: () => T, file: string, what: string): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NnportError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new FormatError(`not a valid ${what} (protobuf decoding failed: ${msg})`, { file }, { cause: e });
  }
}

function readOpsets(model: ModelProto): Record<string, number> {
  const opsets: Record<string, number> = {};
  for (const o of model.opset_import ?? []) {
    const domain = o.domain === 'ai.onnx' ? '' : (o.domain ?? '');
    opsets[domain] = int64ToNumber((o.version ?? 0) as Int64);
  }
  // IR version 1-2 files predate opset_import and mean the first ONNX opset.
  if (!(model.opset_import ?? []).length) opsets[''] = 1;
  return opsets;
}

function readMetadata(model: ModelProto): GraphMetadata {
  const meta: GraphMetadata = { irVersion: int64ToNumber((model.ir_version ?? 0) as Int64) };
  if (model.producer_name) meta.producerName = model.producer_name;
  if (model.producer_version) meta.producerVersion = model.producer_version;
  if (model.domain) meta.domain = model.domain;
  const modelVersion = int64ToNumber((model.model_version ?? 0) as Int64);
  if (modelVersion) meta.modelVersion = modelVersion;
  if (model.doc_string) meta.docString = model.doc_string;
  if (model.metadata_props?.length) meta.props = Object.fromEntries(model.metadata_props.map((p) => [p.key ?? '', p.value ?? '']));
  return meta;
}

// ---- external data ----

/** Every TensorProto in the graph and its subgraphs, with a description for errors. */
function* tensorsOf(g: GraphProto, prefix = ''): Generator<[TensorProto, string]> {
  for (const t of g.initializer ?? []) yield [t, `${prefix}initializer '${t.name ?? ''}'`];
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? []) {
      const where = `${prefix}attribute '${a.name ?? ''}' of node '${n.name || n.op_type || ''}'`;
      if (a.t) yield [a.t, where];
      for (const t of a.tensors ?? []) yield [t, where];
      if (a.g) yield* tensorsOf(a.g, `${where}: `);
      for (const sub of a.graphs ?? []) yield* tensorsOf(sub, `${where}: `);
    }
  }
}

async function readExternalData(g: GraphProto, file: string, options: ReadOptions): Promise<Map<TensorProto, Uint8Array>> {
  const reader = new ExternalDataReader(file, options.readSibling);
  const pending: Promise<[TensorProto, Uint8Array]>[] = [];
  for (const [t, where] of tensorsOf(g)) {
    if (!isExternal(t)) continue;
    const ref = externalRef(t, where, file);
    pending.push(reader.slice(ref, where).then((bytes) => [t, bytes]));
  }
  return new Map(await Promise.all(pending));
}

// ---- graph ----

function readGraph(g: GraphProto, ctx: Context): Graph {
  const where = g.name ? `graph '${g.name}'` : 'graph';
  if (g.sparse_initializer?.length) throw new UnsupportedError('ONNX sparse initializers', `${where} in '${ctx.file}'`);
  const initializers = new Map<string, Tensor>();
  for (const t of g.initializer ?? []) {
    const name = t.name ?? '';
    const desc = `initializer '${name}'`;
    if (!name) throw new FormatError(`${where} has an initializer without a name`, { file: ctx.file });
    if (initializers.has(name)) throw new FormatError(`${where} has two initializers named '${name}'`, { file: ctx.file });
    initializers.set(name, tensorFromProto(t, desc, ctx.file, ctx.external.get(t)));
  }
  const graph: Graph = {
    name: g.name ?? '',
    nodes: (g.node ?? []).map((n, i) => readNode(n, i, ctx)),
    inputs: (g.input ?? []).map((v) => readValueInfo(v, 'input', ctx)!),
    outputs: (g.output ?? []).map((v) => readValueInfo(v, 'output', ctx)!),
    initializers,
    opsets: ctx.opsets,
  };
  const annotations = (g.value_info ?? []).map((v) => readValueInfo(v, 'value_info', ctx)).filter((v): v is ValueInfo => v !== undefined);
  if (annotations.length) graph.valueInfo = annotations;
  return graph;
}

function readNode(n: NodeProto, index: number, ctx: Context): Node {
  const opType = n.op_type ?? '';
  const domain = n.domain ?? '';
  const label = `node '${n.name || `#${index}`}' (${opType})`;
  if (!opType) throw new FormatError(`${label} has no op_type`, { file: ctx.file });
  if (ctx.functions.has(`${domain}::${opType}`)) {
    throw new UnsupportedError('ONNX model-local functions', `${label} calls function '${domain ? `${domain}.` : ''}${opType}' in '${ctx.file}'`);
  }
  const attrs: Record<string, Attr> = {};
  // defineProperty, not assignment: an attribute named '__proto__' must be an own key, not
  // replace the prototype of `attrs` (which would make every missing attribute read as its value)
  for (const a of n.attribute ?? []) Object.defineProperty(attrs, a.name ?? '', { value: readAttr(a, label, ctx), enumerable: true, writable: true, configurable: true });
  const node: Node = { name: n.name ?? '', opType, domain, inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attrs };
  if (n.doc_string) node.doc = n.doc_string;
  return node;
}

/** IR v1 files have no attribute `type`; infer it from the field that is set, as onnx does. */
function attrType(a: AttributeProto): number {
  if (a.type) return a.type;
  const has = (k: keyof AttributeProto) => Object.prototype.hasOwnProperty.call(a, k);
  if (has('f')) return AttributeType.FLOAT;
  if (has('i')) return AttributeType.INT;
  if (has('s')) return AttributeType.STRING;
  if (a.t) return AttributeType.TENSOR;
  if (a.g) return AttributeType.GRAPH;
  if (a.floats?.length) return AttributeType.FLOATS;
  if (a.ints?.length) return AttributeType.INTS;
  if (a.strings?.length) return AttributeType.STRINGS;
  if (a.tensors?.length) return AttributeType.TENSORS;
  if (a.graphs?.length) return AttributeType.GRAPHS;
  return AttributeType.UNDEFINED;
}

function readAttr(a: AttributeProto, nodeLabel: string, ctx: Context): Attr {
  const where = `attribute '${a.name ?? ''}' of ${nodeLabel}`;
  if (a.ref_attr_name) throw new FormatError(`${where} refers to function attribute '${a.ref_attr_name}' outside a function`, { file: ctx.file });
  const tensor = (t: TensorProto) => tensorFromProto(t, where, ctx.file, ctx.external.get(t));
  switch (attrType(a)) {
    case AttributeType.FLOAT:
      return { type: 'float', value: a.f ?? 0 };
    case AttributeType.INT:
      return { type: 'int', value: int64ToNumber((a.i ?? 0) as Int64) };
    case AttributeType.STRING:
      return { type: 'string', value: decodeUtf8(a.s ?? new Uint8Array(0)) };
    case AttributeType.TENSOR:
      if (!a.t) throw new FormatError(`${where} is a TENSOR without a tensor`, { file: ctx.file });
      return { type: 'tensor', value: tensor(a.t) };
    case AttributeType.GRAPH:
      if (!a.g) throw new FormatError(`${where} is a GRAPH without a graph`, { file: ctx.file });
      return { type: 'graph', value: readGraph(a.g, { ...ctx, nested: true }) };
    case AttributeType.FLOATS:
      return { type: 'floats', value: [...(a.floats ?? [])] };
    case AttributeType.INTS:
      return { type: 'ints', value: (a.ints ?? []).map((v) => int64ToNumber(v as Int64)) };
    case AttributeType.STRINGS:
      return { type: 'strings', value: (a.strings ?? []).map(decodeUtf8) };
    case AttributeType.TENSORS:
      return { type: 'tensors', value: (a.tensors ?? []).map(tensor) };
    case AttributeType.GRAPHS:
      return { type: 'graphs', value: (a.graphs ?? []).map((g) => readGraph(g, { ...ctx, nested: true })) };
    case AttributeType.TYPE_PROTO: {
      const t = a.tp ? valueType(a.tp, where, ctx) : undefined;
      if (!t || !('dtype' in t)) throw new FormatError(`${where} is a TYPE_PROTO without a tensor, sequence or optional type with an element type`, { file: ctx.file });
      return { type: 'type', value: t };
    }
    case AttributeType.SPARSE_TENSOR:
    case AttributeType.SPARSE_TENSORS:
    case AttributeType.TYPE_PROTOS:
      throw new UnsupportedError(`ONNX ${AttributeType[a.type!]} attributes`, `${where} in '${ctx.file}'`);
    default:
      throw new FormatError(`${where} has no value or an unknown type (${a.type ?? 0})`, { file: ctx.file });
  }
}

/**
 * A graph input/output (must be a typed tensor) or a value_info annotation (returned as
 * undefined when it is not a tensor with a known element type: it only annotates).
 */
function readValueInfo(v: ValueInfoProto, role: 'input' | 'output' | 'value_info', ctx: Context): ValueInfo | undefined {
  const name = v.name ?? '';
  const where = `${role} '${name}'`;
  const annotation = role === 'value_info';
  const type = v.type;
  if (type && !type.tensor_type) {
    const t = valueType(type, where, ctx);
    if (t && 'dtype' in t) {
      const info: ValueInfo = { name, ...t };
      if (v.doc_string) info.doc = v.doc_string;
      return info;
    }
    if (annotation) return undefined;
    if (t && 'unsupported' in t) throw new UnsupportedError(t.unsupported, `${where} in '${ctx.file}'`);
  }
  const tt = type?.tensor_type;
  if (!tt) {
    if (annotation) return undefined;
    // Subgraph inputs/outputs may leave their type to inference from the enclosing node: a
    // placeholder dtype until the whole graph is read (typeSubgraphValues), an error if it stays.
    if (ctx.nested && !type) {
      const info: ValueInfo = { name, dtype: 'float32', typeInferred: true };
      if (v.doc_string) info.doc = v.doc_string;
      ctx.untyped.add(info);
      return info;
    }
    throw new FormatError(`${where} has no tensor type`, { file: ctx.file });
  }
  const t = dtypeFromOnnx(tt.elem_type ?? 0);
  if (!('dtype' in t)) {
    if (annotation) return undefined;
    if ('unsupported' in t) throw new UnsupportedError(`ONNX data type ${t.unsupported}`, `${where} in '${ctx.file}'`);
    throw new FormatError(`${where} has unknown element type ${tt.elem_type ?? 0}`, { file: ctx.file });
  }
  const info: ValueInfo = { name, dtype: t.dtype };
  if (tt.shape) info.shape = (tt.shape.dim ?? []).map(readDim);
  if (v.doc_string) info.doc = v.doc_string;
  return info;
}

/**
 * A sequence or optional type (of tensors; an optional of a sequence of tensors): its tensors'
 * dtype and shape and its kind. `unsupported` for the types nnport does not hold (maps, sparse
 * tensors, sequences of sequences); undefined for a type with no element type (an annotation).
 */
function valueType(type: TypeProto, where: string, ctx: Context): { dtype: ValueInfo['dtype']; shape?: Dim[]; kind?: ValueKind } | { unsupported: string } | undefined {
  let kind: ValueKind | undefined;
  let t: TypeProto | null | undefined = type;
  if (t.optional_type) {
    kind = 'optional';
    t = t.optional_type.elem_type;
  }
  if (t?.sequence_type) {
    kind = kind ? 'optional-sequence' : 'sequence';
    t = t.sequence_type.elem_type;
  }
  if (!t) return undefined;
  const tt = t.tensor_type;
  if (tt && !tt.elem_type && kind) return undefined;
  if (!tt) {
    if (t.map_type || t.sparse_tensor_type || t.sequence_type || t.optional_type) return { unsupported: 'ONNX values that are not dense tensors or sequences / optionals of them (maps, sparse tensors, nested sequences)' };
    return undefined;
  }
  const d = dtypeFromOnnx(tt.elem_type ?? 0);
  if (!('dtype' in d)) {
    if ('unsupported' in d) return { unsupported: `ONNX data type ${d.unsupported}` };
    throw new FormatError(`${where} has unknown element type ${tt.elem_type ?? 0}`, { file: ctx.file });
  }
  const out: { dtype: ValueInfo['dtype']; shape?: Dim[]; kind?: ValueKind } = { dtype: d.dtype };
  if (tt.shape) out.shape = (tt.shape.dim ?? []).map(readDim);
  if (kind) out.kind = kind;
  return out;
}

/** dim_value -> size, dim_param -> symbol, neither -> unknown. Some exporters write -1 for "unknown"; a dim_param spelled as a derived symbol (ir/graph.ts) is read as unknown, so no file names one. */
function readDim(d: onnx.TensorShapeProto.Dimension.$Properties): Dim {
  if (d.dim_value != null) {
    const n = int64ToNumber(d.dim_value as Int64);
    return n >= 0 ? n : null;
  }
  if (d.dim_param != null && d.dim_param !== '' && !isDerivedSymbol(d.dim_param)) return d.dim_param;
  return null;
}

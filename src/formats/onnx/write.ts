// IR Graph -> ONNX ModelProto bytes (+ an optional external data file).
import { unrollCellClipped } from '../../passes/unroll-recurrent.js';
import { UsageError } from '../../ir/errors.js';
import { isCallerSymbol, type Attr, type Dim, type Graph, type Node, type ValueInfo, type ValueKind } from '../../ir/graph.js';
import type { DType } from '../../ir/dtypes.js';
import type { Tensor } from '../../ir/tensor.js';
import { onnx } from '../generated/onnx.js';
import type { WriteOptions } from '../model.js';
import { onnxDataType } from './data-types.js';
import { toInt64 } from './int64.js';
import { tensorToProto } from './tensor-proto.js';

type GraphProto = onnx.GraphProto.$Properties;
type TensorProto = onnx.TensorProto.$Properties;

const AttributeType = onnx.AttributeProto.AttributeType;
const utf8 = new TextEncoder();

/**
 * The IR version that goes with an ai.onnx opset (onnx/helper.py VERSION_TABLE): the oldest
 * IR version that can carry the opset, so that older runtimes still load the file.
 */
export function irVersionForOpset(opset: number): number {
  if (opset <= 8) return 3;
  if (opset === 9) return 4;
  if (opset === 10) return 5;
  if (opset === 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}

/**
 * Serialize a graph as an ONNX model. With `options.externalDataThreshold`, initializers of at
 * least that many bytes go to `<fileName>.data`, returned in `options.sidecars`.
 */
export function writeOnnx(input: Graph, options: WriteOptions = {}): Uint8Array {
  // ONNX LSTM cannot bound the cell state (its clip bounds the gates' inputs): TFLite's cell_clip, unrolled
  const graph = unrollCellClipped(input, 'an ONNX file');
  const external = options.externalDataThreshold !== undefined ? new ExternalDataWriter(options) : undefined;
  const meta = graph.metadata ?? {};
  const opsets = Object.entries(graph.opsets);
  const defaultOpset = graph.opsets[''] ?? graph.opsets['ai.onnx'] ?? 1;
  const model: onnx.ModelProto.$Properties = {
    ir_version: toInt64(meta.irVersion ?? irVersionForOpset(defaultOpset)),
    opset_import: opsets.map(([domain, version]) => ({ domain, version: toInt64(version) })),
    producer_name: meta.producerName ?? 'nnport',
    graph: writeGraph(graph, external),
  };
  if (meta.producerVersion) model.producer_version = meta.producerVersion;
  if (meta.domain) model.domain = meta.domain;
  if (meta.modelVersion) model.model_version = toInt64(meta.modelVersion);
  if (meta.docString) model.doc_string = meta.docString;
  if (meta.props) model.metadata_props = Object.entries(meta.props).map(([key, value]) => ({ key, value }));
  external?.finish();
  return onnx.ModelProto.encode(model).finish();
}

function writeGraph(graph: Graph, external: ExternalDataWriter | undefined): GraphProto {
  const proto: GraphProto = {
    node: graph.nodes.map(writeNode),
    name: graph.name,
    initializer: [...graph.initializers].map(([name, t]) => external?.place(t, name) ?? tensorToProto(t, name)),
    input: graph.inputs.map(writeValueInfo),
    output: graph.outputs.map(writeValueInfo),
  };
  if (graph.valueInfo?.length) proto.value_info = graph.valueInfo.map(writeValueInfo);
  return proto;
}

function writeNode(node: Node): onnx.NodeProto.$Properties {
  const proto: onnx.NodeProto.$Properties = {
    input: node.inputs,
    output: node.outputs,
    op_type: node.opType,
    // pot_scale_int16 (the TFLite reader's note on an int16 Add/Sub) is no ONNX attribute
    attribute: Object.entries(node.attrs).filter(([name]) => name !== 'pot_scale_int16').map(([name, a]) => writeAttr(name, a)),
  };
  if (node.name) proto.name = node.name;
  if (node.domain) proto.domain = node.domain;
  if (node.doc) proto.doc_string = node.doc;
  return proto;
}

function writeAttr(name: string, a: Attr): onnx.AttributeProto.$Properties {
  // Subgraphs and attribute tensors are always stored inline: only initializers go external.
  switch (a.type) {
    case 'float':
      return { name, type: AttributeType.FLOAT, f: a.value };
    case 'int':
      return { name, type: AttributeType.INT, i: toInt64(a.value) };
    case 'string':
      return { name, type: AttributeType.STRING, s: utf8.encode(a.value) };
    case 'tensor':
      return { name, type: AttributeType.TENSOR, t: tensorToProto(a.value, '') };
    case 'graph':
      return { name, type: AttributeType.GRAPH, g: writeGraph(a.value, undefined) };
    case 'floats':
      return { name, type: AttributeType.FLOATS, floats: a.value };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: a.value.map((v) => toInt64(v)) };
    case 'strings':
      return { name, type: AttributeType.STRINGS, strings: a.value.map((s) => utf8.encode(s)) };
    case 'tensors':
      return { name, type: AttributeType.TENSORS, tensors: a.value.map((t) => tensorToProto(t, '')) };
    case 'graphs':
      return { name, type: AttributeType.GRAPHS, graphs: a.value.map((g) => writeGraph(g, undefined)) };
    case 'type':
      return { name, type: AttributeType.TYPE_PROTO, tp: typeProto(a.value) };
  }
}

/** A tensor type, or a sequence / optional of tensors of it (ValueKind). */
function typeProto(v: { dtype: DType; shape?: Dim[]; kind?: ValueKind }): onnx.TypeProto.$Properties {
  const tensorType: onnx.TypeProto.Tensor.$Properties = { elem_type: onnxDataType(v.dtype) };
  if (v.shape) {
    tensorType.shape = {
      // (a derived symbol is shape inference's own name for an unknown dim: written as unknown)
      dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: toInt64(d) } : isCallerSymbol(d) ? { dim_param: d } : {})),
    };
  }
  const tensor: onnx.TypeProto.$Properties = { tensor_type: tensorType };
  if (v.kind === 'sequence') return { sequence_type: { elem_type: tensor } };
  if (v.kind === 'optional') return { optional_type: { elem_type: tensor } };
  if (v.kind === 'optional-sequence') return { optional_type: { elem_type: { sequence_type: { elem_type: tensor } } } };
  return tensor;
}

function writeValueInfo(v: ValueInfo): onnx.ValueInfoProto.$Properties {
  // as the file had it: onnx types such a subgraph value from the node around it
  if (v.typeInferred) return v.doc ? { name: v.name, doc_string: v.doc } : { name: v.name };
  const proto: onnx.ValueInfoProto.$Properties = { name: v.name, type: typeProto(v) };
  if (v.doc) proto.doc_string = v.doc;
  return proto;
}

/**
 * Lays initializers out in one external data file. Offsets follow onnx's own writer: large
 * tensors (>= 1 MiB) start on a 4 KiB boundary so a runtime can mmap them; the rest on 64 bytes
 * (enough for any SIMD load).
 */
class ExternalDataWriter {
  private readonly threshold: number;
  private readonly location: string;
  private readonly parts: { offset: number; bytes: Uint8Array }[] = [];
  private size = 0;

  constructor(private readonly options: WriteOptions) {
    if (!options.sidecars) throw new UsageError('writing ONNX external data needs options.sidecars to receive the data file');
    this.threshold = options.externalDataThreshold!;
    const base = (options.fileName ?? 'model.onnx').split(/[/\\]/).pop() || 'model.onnx';
    this.location = `${base}.data`;
  }

  /** The proto for `t` pointing into the data file, or undefined to keep `t` inline. */
  place(t: Tensor, name: string): TensorProto | undefined {
    if (t.dtype === 'string' || t.byteLength === 0 || t.byteLength < this.threshold) return undefined;
    const align = t.byteLength >= 1 << 20 ? 4096 : 64;
    const offset = Math.ceil(this.size / align) * align;
    this.parts.push({ offset, bytes: t.bytes() });
    this.size = offset + t.byteLength;
    const proto = tensorToProto(t, name);
    delete proto.raw_data;
    proto.data_location = onnx.TensorProto.DataLocation.EXTERNAL;
    proto.external_data = [
      { key: 'location', value: this.location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(t.byteLength) },
    ];
    return proto;
  }

  finish(): void {
    if (!this.parts.length) return;
    const data = new Uint8Array(this.size);
    for (const p of this.parts) data.set(p.bytes, p.offset);
    this.options.sidecars!.set(this.location, data);
  }
}

// TFLite flatbuffer -> nnport IR. TFLite is channels-last: convolutions and pools become the
// `nnport`-domain channels-last ops (CONV_2D weights stay OHWI, `kernel_layout: 'OHWI'`;
// DEPTHWISE_CONV_2D's (1,kh,kw,C·M) is reshaped to HWIO (kh,kw,1,C·M)), everything else plain
// ONNX ops with axes already in NHWC terms. Quantized tensors keep their integer data and
// become ONNX QDQ: a DequantizeLinear before each float op that reads one and a QuantizeLinear
// after each op that writes one (per-tensor or per-axis on any axis, int8/uint8/int16, int32
// bias), so the float runtime simulates the model and the integer runtime runs the islands.
import type { DType } from '../../ir/dtypes.js';
import { DTYPES, viewAs } from '../../ir/dtypes.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import type { Attr, Graph, Node, ValueInfo } from '../../ir/graph.js';
import { shapeSize, Tensor } from '../../ir/tensor.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { Model } from '../generated/tflite/model.js';
import type { Operator } from '../generated/tflite/operator.js';
import { TensorType } from '../generated/tflite/tensor-type.js';
import type { ReadOptions } from '../model.js';
import { CheckedByteBuffer, guardFlatbuffer, ownBytes } from './flatbuffer.js';
import { type DilatedConv, type OpEntry, planDilatedConvs } from './fold-dilation.js';
import { TFLITE_READ_OPS } from './ops.js';
import { TFLITE_READ_MORE_OPS } from './ops-more.js';
import { TFLITE_READ_GAP_OPS } from './read-gap.js';
import { TFLITE_READ_CONV3D_OPS } from './read-conv3d.js';
import { RESOURCE_OPS, TFLITE_READ_CONTROL_FLOW_OPS } from './read-control-flow.js';
import { STATE_NOTE } from './recurrent-int.js';

/** Quantization of one tensor: per-tensor (axis undefined) or per-axis. */
export interface TfliteQuant {
  scale: number[];
  zeroPoint: number[];
  axis?: number;
}

export interface TfliteTensorInfo {
  index: number;
  /** unique IR value name */
  name: string;
  dtype: DType;
  shape: number[];
  signature?: number[];
  quant?: TfliteQuant;
  /** constant data (raw, integer for quantized tensors) */
  data?: Tensor;
  isVariable: boolean;
  /** a RESOURCE tensor (a variable's handle): never an IR value, only VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE use it */
  resource?: true;
}

const TENSOR_DTYPES: Partial<Record<TensorType, DType>> = {
  [TensorType.FLOAT32]: 'float32',
  [TensorType.FLOAT16]: 'float16',
  [TensorType.INT32]: 'int32',
  [TensorType.UINT8]: 'uint8',
  [TensorType.INT64]: 'int64',
  [TensorType.STRING]: 'string',
  [TensorType.BOOL]: 'bool',
  [TensorType.INT16]: 'int16',
  [TensorType.INT8]: 'int8',
  [TensorType.FLOAT64]: 'float64',
  [TensorType.UINT64]: 'uint64',
  [TensorType.UINT32]: 'uint32',
  [TensorType.UINT16]: 'uint16',
  [TensorType.BFLOAT16]: 'bfloat16',
};

export function dtypeOfTensorType(t: TensorType, what: string): DType {
  const d = TENSOR_DTYPES[t];
  if (!d) throw new UnsupportedError(`TFLite tensor type ${TensorType[t] ?? t}`, what);
  return d;
}

/** The op's name from an OperatorCode: builtin_code, or the deprecated byte for old files (codes < 127). */
function opName(code: number, custom: string | null): string {
  if (code === BuiltinOperator.CUSTOM) return `CUSTOM:${custom ?? '?'}`;
  return BuiltinOperator[code] ?? `builtin ${code}`;
}

/** Everything an op converter needs: the tensors of the subgraph and a node sink. */
export class TfliteGraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers = new Map<string, Tensor>();
  private readonly dequantized = new Map<number, string>();
  private readonly consts = new Map<string, string>();
  /**
   * float16 weights (a DEQUANTIZE of a float16 constant): the float32 constant decoded for the
   * converters -> the float16 constant it came from. They stay float16 in the graph read (a Cast),
   * so a float16 model written again keeps them float16.
   */
  readonly halfWeights = new Map<string, string>();

  private readonly used: Set<string>;

  /** `used`: the names taken in the whole model, shared by the builders of its subgraphs */
  constructor(
    readonly file: string,
    readonly tensors: TfliteTensorInfo[],
    used = new Set<string>(),
  ) {
    this.used = used;
    for (const t of tensors) this.used.add(t.name);
  }

  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr> = {}, domain = ''): Node {
    const n: Node = { name: outputs[0] ?? opType, opType, domain, inputs, outputs, attrs };
    this.nodes.push(n);
    return n;
  }

  initializer(base: string, t: Tensor): string {
    const name = this.fresh(base);
    this.initializers.set(name, t);
    return name;
  }

  /** A shared constant (scalars for Clip, shapes), named by its value. */
  constant(t: Tensor, base: string): string {
    const key = `${t.dtype}[${t.shape.join(',')}]:${t.toNumbers().join(',')}`;
    let name = this.consts.get(key);
    if (!name) this.consts.set(key, (name = this.initializer(base, t)));
    return name;
  }

  int64s(values: readonly number[], base = 'const_ints'): string {
    return this.constant(Tensor.int64([values.length], values), base);
  }

  float(value: number, base = 'const_float'): string {
    return this.constant(Tensor.float32([], [value]), base);
  }

  /** Scale and zero-point initializers of a quantized tensor (per-tensor: scalars). */
  quantParams(t: TfliteTensorInfo): { scale: string; zeroPoint: string; attrs: Record<string, Attr> } {
    const q = t.quant!;
    const zpType: DType = t.dtype === 'int64' ? 'int32' : t.dtype;
    const perAxis = q.axis !== undefined;
    const shape = perAxis ? [q.scale.length] : [];
    const zp = Tensor.zeros(zpType, shape);
    (zp.data as Int32Array).set(q.zeroPoint);
    return {
      scale: this.initializer(`${t.name}_scale`, Tensor.float32(shape, q.scale)),
      zeroPoint: this.initializer(`${t.name}_zero_point`, zp),
      attrs: perAxis ? { axis: { type: 'int', value: q.axis! } } : {},
    };
  }

  /** The float value of a tensor: its own name, or a DequantizeLinear of it (made once). */
  floatOf(t: TfliteTensorInfo, rawName = t.name): string {
    if (!t.quant || t.dtype === 'float32') return rawName;
    const cached = rawName === t.name ? this.dequantized.get(t.index) : undefined;
    if (cached) return cached;
    const p = this.quantParams(t);
    const out = this.fresh(`${rawName}_dequantized`);
    this.node('DequantizeLinear', [rawName, p.scale, p.zeroPoint], [out], p.attrs);
    if (rawName === t.name) this.dequantized.set(t.index, out);
    return out;
  }
}

/**
 * The decoded float16 weights that an op reads become the file's float16 constant and a Cast to
 * float32 (what ONNX and quantizeGraph's float16 mode write): the reader's float32 copies go.
 */
function castHalfWeights(b: TfliteGraphBuilder): Node[] {
  const read = new Set(b.nodes.flatMap((n) => n.inputs));
  const casts: Node[] = [];
  for (const [decoded, half] of b.halfWeights) {
    if (!read.has(decoded) || !b.initializers.has(half)) continue;
    b.initializers.delete(decoded);
    casts.push({ name: decoded, opType: 'Cast', domain: '', inputs: [half], outputs: [decoded], attrs: { to: { type: 'int', value: 1 } } });
  }
  return casts;
}

/** Quantization parameters equal (same scales, zero points, axis): data can move as integers. */
export function sameQuant(a: TfliteTensorInfo, b: TfliteTensorInfo): boolean {
  if (a.dtype !== b.dtype) return false;
  if (!a.quant || !b.quant) return !a.quant && !b.quant;
  const qa = a.quant;
  const qb = b.quant;
  return qa.axis === qb.axis && qa.scale.length === qb.scale.length && qa.scale.every((s, i) => s === qb.scale[i] && qa.zeroPoint[i] === qb.zeroPoint[i]);
}

/**
 * Integer data that TFLite's data-movement kernels (RESHAPE, SQUEEZE, TRANSPOSE, GATHER, SLICE,
 * STRIDED_SLICE, TILE, REVERSE_V2, DEPTH_TO_SPACE, SPLIT, MIRROR_PAD, RESIZE_NEAREST_NEIGHBOR,
 * the pools, ...) copy as bytes: both tensors quantized per tensor with one integer type. Their
 * output's parameters, when they differ from the input's, only say how the copied bytes read
 * (the kernels do not requantize; checked against the interpreter in int8-copy-ops.test.ts).
 */
export function copiesBytes(a: TfliteTensorInfo, b: TfliteTensorInfo): boolean {
  if (sameQuant(a, b)) return true;
  const one = (q: TfliteQuant | undefined) => !!q && q.scale.length === 1 && q.axis === undefined;
  return a.dtype === b.dtype && ['int8', 'uint8', 'int16'].includes(a.dtype) && one(a.quant) && one(b.quant);
}

/** Per-op view handed to a converter in ops.ts. */
export interface OpContext {
  readonly b: TfliteGraphBuilder;
  readonly op: Operator;
  readonly opName: string;
  readonly version: number;
  /** tensor indices, -1 for an omitted optional input */
  readonly inputs: number[];
  readonly outputs: number[];
  /** the model being read and the index of the subgraph this op is in (control flow reads other subgraphs) */
  readonly model: TfliteModelContext;
  readonly subgraph: number;
  /** a conv read as the dilated conv of a SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND (fold-dilation.ts) */
  readonly dilated?: DilatedConv;
}

function readQuant(q: ReturnType<import('../generated/tflite/tensor.js').Tensor['quantization']>, dtype: DType, shape: number[], where: string, file: string): TfliteQuant | undefined {
  if (!q) return undefined;
  const n = q.scaleLength();
  if (n === 0) return undefined;
  if (dtype === 'float32' || dtype === 'float16') return undefined;
  const scale = Array.from(q.scaleArray()!);
  const nz = q.zeroPointLength();
  if (nz !== 0 && nz !== n) throw new FormatError(`${where}: ${n} scales but ${nz} zero points`, { file });
  const zeroPoint = new Array<number>(n);
  for (let i = 0; i < n; i++) zeroPoint[i] = nz ? Number(q.zeroPoint(i)) : 0;
  if (n === 1) return { scale, zeroPoint };
  let axis = q.quantizedDimension();
  // TOCO wrote biases with the weights' quantized_dimension (3 on a 1-D bias): the only axis that fits is 0
  if (shape.length === 1 && shape[0] === n) axis = 0;
  if (axis < 0 || axis >= shape.length || shape[axis] !== n) {
    throw new FormatError(`${where}: ${n} per-channel scales on dimension ${axis} of shape [${shape.join(', ')}]`, { file });
  }
  return { scale, zeroPoint, axis };
}

function constantData(dtype: DType, shape: number[], raw: Uint8Array, where: string, file: string): Tensor {
  if (dtype === 'string') throw new UnsupportedError('TFLite string constants', where);
  const count = shapeSize(shape);
  const need = count * DTYPES[dtype].bytes;
  if (raw.byteLength !== need) {
    throw new FormatError(`${where}: buffer holds ${raw.byteLength} bytes, but shape [${shape.join(', ')}] of ${dtype} needs ${need}`, { file });
  }
  return new Tensor(dtype, shape, viewAs(dtype, raw, count));
}

/**
 * 16x8 models carry int64 biases; ONNX DequantizeLinear stops at int32, so a bias whose values
 * fit (they do in practice: |bias| < 2^31) is kept as int32 with the same scale.
 */
function narrowBias(t: TfliteTensorInfo, file: string): Tensor {
  const src = t.data!.data as BigInt64Array;
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (v > 2147483647n || v < -2147483648n) throw new UnsupportedError('TFLite int64 bias beyond the int32 range', `tensor '${t.name}' in ${file}`);
    out[i] = Number(v);
  }
  t.dtype = 'int32';
  return new Tensor('int32', t.shape, out);
}

export async function readTflite(input: Uint8Array, options: ReadOptions = {}): Promise<Graph> {
  const file = options.fileName ?? '<bytes>';
  if (input.byteLength < 8) throw new FormatError(`${input.byteLength} bytes is too short for a TFLite flatbuffer`, { file });
  const bytes = ownBytes(input);
  return guardFlatbuffer(file, () => buildGraph(bytes, file));
}

/** What the subgraphs of one file share while they are read (control flow reads subgraphs inside subgraphs). */
export interface TfliteModelContext {
  readonly file: string;
  readonly model: Model;
  readonly bytes: Uint8Array;
  readonly opcodes: { name: string; version: number }[];
  /** IR names taken anywhere in the model: ONNX subgraphs read outer values by name, so no name may repeat */
  readonly used: Set<string>;
  /** the subgraphs being read, outermost first: one reached again is a recursion */
  readonly stack: number[];
  /** resource variables CALL_ONCE initialised from constants: `container/shared_name` -> the constant (read-control-flow.ts) */
  readonly variables: Map<string, TfliteTensorInfo>;
  /** subgraphs read so far, with repeats: a subgraph reached by many paths is read once per path */
  reads: number;
}

/** One subgraph read into IR nodes: its builder (nodes, initializers, tensors) and its inputs and outputs. */
export interface TfliteSubgraphRead {
  readonly index: number;
  readonly name: string;
  readonly b: TfliteGraphBuilder;
  readonly inputs: TfliteTensorInfo[];
  readonly outputs: TfliteTensorInfo[];
  /** the nodes in order, the float16 weights' Casts first */
  readonly nodes: Node[];
}

/** Subgraphs nested deeper than this (an IF in a WHILE body in ...) are refused. */
const MAX_SUBGRAPH_DEPTH = 32;
/**
 * Subgraph reads in one file (each IF reads 2, a WHILE 3): bounds a file whose subgraphs call
 * the next one twice over, a chain read 2^depth times.
 */
const MAX_SUBGRAPH_READS = 1024;

function buildGraph(bytes: Uint8Array, file: string): Graph {
  const bb = new CheckedByteBuffer(bytes, file);
  const root = bb.readInt32(0);
  if (root < 8 || root + 4 > bytes.byteLength) throw new FormatError(`root table offset ${root} is outside the file (${bytes.byteLength} bytes)`, { file, offset: 0 });
  const model = Model.getRootAsModel(bb);
  const version = model.version();
  if (version !== 3) throw new UnsupportedError(`TFLite schema version ${version}`, 'only version 3 files exist in practice');
  if (model.subgraphsLength() < 1) throw new FormatError('the model has no subgraph', { file });

  const opcodes: { name: string; version: number }[] = [];
  for (let i = 0; i < model.operatorCodesLength(); i++) {
    const c = model.operatorCodes(i)!;
    // builtin_code is the real code; files from before 2.4 only have the deprecated int8 field
    opcodes.push({ name: opName(Math.max(c.builtinCode(), c.deprecatedBuiltinCode()), c.customCode()), version: c.version() });
  }
  const m: TfliteModelContext = { file, model, bytes, opcodes, used: new Set(), stack: [], variables: new Map(), reads: 0 };
  const main = readSubgraph(m, 0);
  const valueInfo = (t: TfliteTensorInfo): ValueInfo => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape.map((d, k) => (t.signature && t.signature[k] === -1 ? (k === 0 ? 'batch' : null) : d)),
  });

  const nBuffers = model.buffersLength();
  const description = model.description();
  const props: Record<string, string> = {};
  for (let i = 0; i < model.metadataLength(); i++) {
    const md = model.metadata(i)!;
    const bi = md.buffer();
    const name = md.name();
    if (name === 'min_runtime_version' && bi > 0 && bi < nBuffers) {
      const data = model.buffers(bi)!.dataArray();
      if (data) props.min_runtime_version = new TextDecoder().decode(data).replace(/\0+$/, '');
    }
  }
  // stateful ops (SVDF, integer LSTM): what nnport's run of them means, shown by inspect
  if (main.nodes.some((n) => n.doc?.endsWith(STATE_NOTE))) props.nnport_note = `variable tensors: ${STATE_NOTE}`;
  return {
    name: main.name,
    nodes: main.nodes,
    inputs: main.inputs.map(valueInfo),
    outputs: main.outputs.map(valueInfo),
    initializers: main.b.initializers,
    opsets: { '': 21, nnport: 1 },
    metadata: { producerName: description ?? undefined, props },
  };
}

/**
 * Subgraph `index` read into IR nodes with subgraph 0's op readers. Its values get names no other
 * subgraph read has (a subgraph read twice, as WHILE's cond is, gets fresh ones the second time).
 */
export function readSubgraph(m: TfliteModelContext, index: number, what = 'subgraph'): TfliteSubgraphRead {
  const { file, model, bytes, opcodes } = m;
  const count = model.subgraphsLength();
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new FormatError(`${what}: subgraph index ${index} is out of range (${count} subgraphs)`, { file });
  if (m.stack.includes(index)) {
    throw new FormatError(`${what}: subgraph ${index} calls itself (${[...m.stack, index].join(' -> ')}); TFLite control flow does not recurse`, { file });
  }
  if (m.stack.length >= MAX_SUBGRAPH_DEPTH) throw new UnsupportedError(`TFLite subgraphs nested deeper than ${MAX_SUBGRAPH_DEPTH}`, `${what} in '${file}'`);
  if (++m.reads > MAX_SUBGRAPH_READS) throw new UnsupportedError(`TFLite control flow reaching subgraphs more than ${MAX_SUBGRAPH_READS} times`, `${what} in '${file}'`);
  const sg = model.subgraphs(index)!;
  const sgName = sg.name() || (index === 0 ? 'main' : `subgraph_${index}`);
  // subgraph 0's tensors keep the file's names; the others' are prefixed with their subgraph's
  const prefix = index === 0 ? '' : `${sgName}/`;

  const nBuffers = model.buffersLength();
  const used = m.used;
  const tensors: TfliteTensorInfo[] = [];
  for (let i = 0; i < sg.tensorsLength(); i++) {
    const t = sg.tensors(i)!;
    const base = `${prefix}${t.name() || `tensor_${i}`}`;
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    const where = `${index ? `subgraph ${index} ` : ''}tensor ${i} '${name}'`;
    const resource = t.type() === TensorType.RESOURCE;
    const dtype = resource ? 'int32' : dtypeOfTensorType(t.type(), where);
    const shape = Array.from(t.shapeArray() ?? []);
    if (shape.some((d) => d < 0)) throw new FormatError(`${where}: negative dimension in shape [${shape.join(', ')}]`, { file });
    const sig = t.shapeSignatureArray();
    const info: TfliteTensorInfo = {
      index: i,
      name,
      dtype,
      shape,
      signature: sig && sig.length ? Array.from(sig) : undefined,
      quant: readQuant(t.quantization(), dtype, shape, where, file),
      isVariable: t.isVariable(),
    };
    if (resource) info.resource = true;
    const bi = t.buffer();
    if (bi < 0 || bi >= nBuffers) throw new FormatError(`${where}: buffer index ${bi} is out of range (${nBuffers} buffers)`, { file });
    if (bi > 0 && !resource) {
      const buf = model.buffers(bi)!;
      const off = Number(buf.offset());
      let raw: Uint8Array | undefined;
      if (off > 1) {
        // files over 2 GB keep constant data after the flatbuffer, addressed from the file start
        const size = Number(buf.size());
        if (off + size > bytes.byteLength) throw new FormatError(`${where}: buffer ${bi} at offset ${off} + ${size} bytes runs past the end of the file (${bytes.byteLength} bytes)`, { file, offset: off });
        raw = bytes.subarray(off, off + size);
      } else if (buf.dataLength() > 0) {
        raw = buf.dataArray()!;
      }
      if (raw && raw.byteLength > 0) info.data = constantData(dtype, shape, raw, where, file);
      // a buffer given for a tensor of no elements holds no bytes: the one value such a tensor has (RESHAPE's shape [0])
      else if (shapeSize(shape) === 0 && dtype !== 'string') info.data = Tensor.zeros(dtype, shape);
      if (info.data && dtype === 'int64' && info.quant) info.data = narrowBias(info, file);
    }
    tensors.push(info);
  }

  const b = new TfliteGraphBuilder(file, tensors, used);
  const tensorAt = (idx: number, what: string): TfliteTensorInfo => {
    const t = tensors[idx];
    if (!t) throw new FormatError(`${index ? `subgraph ${index} ` : ''}${what}: tensor index ${idx} is out of range (${tensors.length} tensors)`, { file });
    return t;
  };

  const graphInputs = Array.from(sg.inputsArray() ?? []).map((i) => tensorAt(i, 'subgraph input'));
  const graphOutputs = Array.from(sg.outputsArray() ?? []).map((i) => tensorAt(i, 'subgraph output'));
  for (const t of [...graphInputs, ...graphOutputs]) {
    if (t.resource) throw new UnsupportedError('TFLite resource tensors as subgraph inputs or outputs', `tensor '${t.name}' of subgraph ${index} in '${file}'`);
  }
  const feeds = new Set(graphInputs.map((t) => t.index));
  for (const t of tensors) {
    if (t.data && !feeds.has(t.index)) b.initializers.set(t.name, t.data);
  }

  const entries: (OpEntry & { version: number })[] = [];
  for (let k = 0; k < sg.operatorsLength(); k++) {
    const op = sg.operators(k)!;
    const oi = op.opcodeIndex();
    const at = `${index ? `subgraph ${index} ` : ''}operator ${k}`;
    if (oi >= opcodes.length) throw new FormatError(`${at}: opcode index ${oi} is out of range (${opcodes.length} operator codes)`, { file });
    const code = opcodes[oi]!;
    const inputs = Array.from(op.inputsArray() ?? []);
    const outputs = Array.from(op.outputsArray() ?? []);
    for (const i of inputs) if (i !== -1) tensorAt(i, `operator ${k} (${code.name}) input`);
    for (const i of outputs) tensorAt(i, `operator ${k} (${code.name}) output`);
    entries.push({ op, name: code.name, version: code.version, inputs, outputs });
  }
  const dilation = planDilatedConvs(entries, tensors, new Set(graphOutputs.map((t) => t.index)));

  m.stack.push(index);
  const unsupported = new Set<string>();
  entries.forEach((e, k) => {
    const convert = TFLITE_READ_OPS[e.name] ?? TFLITE_READ_MORE_OPS[e.name] ?? TFLITE_READ_CONV3D_OPS[e.name] ?? TFLITE_READ_GAP_OPS[e.name] ?? TFLITE_READ_CONTROL_FLOW_OPS[e.name];
    if (!convert) {
      unsupported.add(e.name);
      return;
    }
    if (unsupported.size || dilation.skip.has(k)) return;
    if (!RESOURCE_OPS.has(e.name)) {
      for (const i of [...e.inputs, ...e.outputs]) {
        if (i !== -1 && tensors[i]!.resource) throw new UnsupportedError(`TFLite ${e.name} on a resource tensor`, `operator ${k} of subgraph ${index} in '${file}' passes resource variable '${tensors[i]!.name}'`);
      }
    }
    const base = { b, op: e.op, opName: e.name, version: e.version, model: m, subgraph: index };
    const dilated = dilation.convs.get(k);
    if (!dilated) return void convert({ ...base, inputs: e.inputs, outputs: e.outputs });
    // SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND read as the conv on the first one's input, writing the last one's output
    if (!dilated.unitAxis) return void convert({ ...base, inputs: [dilated.input, ...e.inputs.slice(1)], outputs: [dilated.output], dilated });
    // the 1-D form: the 3-D input given its unit dim, the conv, the unit dim taken off again (the raw data: one grid throughout)
    const [x4, y4] = [tensors[dilated.input]!, tensors[dilated.output]!].map((t, i) => {
      const unit = (dims: number[]) => [...dims.slice(0, dilated.unitAxis), 1, ...dims.slice(dilated.unitAxis)];
      const info: TfliteTensorInfo = { ...t, index: tensors.length, name: b.fresh(`${t.name}_${i ? 'conv' : 'unsqueezed'}`), shape: unit(t.shape), signature: t.signature && unit(t.signature), data: undefined, isVariable: false };
      tensors.push(info);
      return info;
    }) as [TfliteTensorInfo, TfliteTensorInfo];
    const axes = b.int64s([dilated.unitAxis], 'axes');
    b.node('Unsqueeze', [tensors[dilated.input]!.name, axes], [x4.name]);
    convert({ ...base, inputs: [x4.index, ...e.inputs.slice(1)], outputs: [y4.index], dilated });
    b.node('Squeeze', [y4.name, axes], [tensors[dilated.output]!.name]);
  });
  m.stack.pop();
  if (unsupported.size) {
    throw new UnsupportedError(`TFLite op${unsupported.size > 1 ? 's' : ''} ${[...unsupported].join(', ')}`, `'${file}' uses ${[...unsupported].join(', ')}, which nnport does not run`);
  }
  return { index, name: sgName, b, inputs: graphInputs, outputs: graphOutputs, nodes: [...castHalfWeights(b), ...b.nodes] };
}

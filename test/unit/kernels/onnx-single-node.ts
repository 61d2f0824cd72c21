/**
 * A minimal ONNX protobuf encoder for single-node test and benchmark models, so that the
 * peers (onnxruntime-node / -web) see exactly the graph our runtime runs. Independent of
 * nnport's own ONNX writer on purpose: a bug there must not hide a bug here.
 */
export type AttrValue = number | number[] | string | { floats: number[] } | { float: number };

export interface SingleNodeSpec {
  opType: string;
  /** graph inputs fed at run time: name and shape ('' entries for omitted optional inputs are allowed in `nodeInputs`) */
  inputs: { name: string; shape: number[] }[];
  /** constant inputs (float32), stored as initializers */
  initializers?: { name: string; shape: number[]; data: Float32Array }[];
  /** node input list (defaults to inputs then initializers, in order) */
  nodeInputs?: string[];
  outputs: string[];
  /** ONNX elem_type of graph inputs that are not float32 (e.g. 7 for int64 RoiAlign batch_indices) */
  inputTypes?: Record<string, number>;
  /** ONNX elem_type of outputs that are not float32 (e.g. 7 for int64 MaxPool Indices) */
  outputTypes?: Record<string, number>;
  attrs?: Record<string, AttrValue>;
  opset?: number;
}

class Writer {
  private bytes: number[] = [];
  varint(v: number | bigint): this {
    let n = BigInt.asUintN(64, BigInt(v));
    while (n >= 0x80n) {
      this.bytes.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.bytes.push(Number(n));
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  int(field: number, v: number): this {
    return this.tag(field, 0).varint(v);
  }
  bytesField(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytesField(field, new TextEncoder().encode(s));
  }
  msg(field: number, w: Writer): this {
    return this.bytesField(field, w.finish());
  }
  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(new Float32Array([v]).buffer);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

function valueInfo(name: string, shape: number[], elemType = 1): Writer {
  const dims = new Writer();
  for (const d of shape) dims.msg(1, new Writer().int(1, d));
  const tensorType = new Writer().int(1, elemType).msg(2, dims);
  return new Writer().str(1, name).msg(2, new Writer().msg(1, tensorType));
}

function attribute(name: string, v: AttrValue): Writer {
  const w = new Writer().str(1, name);
  if (typeof v === 'number') return w.int(3, v).int(20, 2);
  if (typeof v === 'string') return w.str(4, v).int(20, 3);
  if (Array.isArray(v)) {
    for (const x of v) w.int(8, x);
    return w.int(20, 7);
  }
  if ('float' in v) return w.float(2, v.float).int(20, 1);
  for (const x of v.floats) w.float(7, x);
  return w.int(20, 6);
}

/** Bytes of a ModelProto holding one node. */
export function singleNodeModel(spec: SingleNodeSpec): Uint8Array {
  const node = new Writer();
  const inits = spec.initializers ?? [];
  const nodeInputs = spec.nodeInputs ?? [...spec.inputs.map((i) => i.name), ...inits.map((i) => i.name)];
  for (const i of nodeInputs) node.str(1, i);
  for (const o of spec.outputs) node.str(2, o);
  node.str(3, `${spec.opType.toLowerCase()}_0`).str(4, spec.opType);
  for (const [k, v] of Object.entries(spec.attrs ?? {})) node.msg(5, attribute(k, v));

  const graph = new Writer().msg(1, node).str(2, 'g');
  for (const t of inits) {
    const tw = new Writer();
    for (const d of t.shape) tw.int(1, d);
    tw.int(2, 1).str(8, t.name).bytesField(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    graph.msg(5, tw);
  }
  for (const i of spec.inputs) graph.msg(11, valueInfo(i.name, i.shape, spec.inputTypes?.[i.name]));
  // Output shapes are left unknown: the peer infers them.
  for (const o of spec.outputs) {
    const tensorType = new Writer().int(1, spec.outputTypes?.[o] ?? 1);
    graph.msg(12, new Writer().str(1, o).msg(2, new Writer().msg(1, tensorType)));
  }
  return new Writer()
    .int(1, 8)
    .msg(7, graph)
    .msg(8, new Writer().str(1, '').int(2, spec.opset ?? 17))
    .finish();
}

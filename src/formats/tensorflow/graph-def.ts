// Decoding a GraphDef and reading its nodes: input references ("node", "node:1", "^node"),
// attributes parsed into plain values once.
import { FormatError, NnportError } from '../../ir/errors.js';
import { tensorflow } from '../generated/tensorflow.js';
import { tfDataTypeName } from './data-types.js';
import { int64ToNumber, type Int64 } from './int64.js';
import { shapeFromProto, tensorFromTfProto, tfDType } from './tensor-proto.js';
import type { DType } from '../../ir/dtypes.js';
import type { Tensor } from '../../ir/tensor.js';
import { guardProtobufDecode } from '../protobuf-peek.js';
import { GRAPH_DEF } from './wire-schema.js';

export type GraphDef = tensorflow.GraphDef.$Properties;
export type NodeDef = tensorflow.NodeDef.$Properties;
export type AttrValue = tensorflow.AttrValue.$Properties;

/** protobufjs throws RangeError/Error on malformed bytes; make that a FormatError naming the file. */
export function decodeProto<T>(fn: () => T, file: string, what: string): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NnportError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new FormatError(`not a valid ${what} (protobuf decoding failed: ${msg})`, { file }, { cause: e });
  }
}

export function decodeGraphDef(bytes: Uint8Array, file: string): GraphDef {
  guardProtobufDecode(bytes, GRAPH_DEF, file, 'TensorFlow GraphDef');
  return decodeProto(() => tensorflow.GraphDef.decode(bytes), file, 'TensorFlow GraphDef');
}

export interface InputRef {
  node: string;
  /** output index (0 when the reference has no ':n') */
  index: number;
  /** a control dependency ("^node"): ordering only, no data */
  control: boolean;
}

/** "node", "node:2" or "^node". Function bodies' "node:out_arg:2" is handled by the inliner. */
export function parseInput(ref: string): InputRef {
  if (ref.startsWith('^')) return { node: ref.slice(1), index: 0, control: true };
  const m = /^(.*):(\d+)$/.exec(ref);
  if (m) return { node: m[1]!, index: Number(m[2]), control: false };
  return { node: ref, index: 0, control: false };
}

/** The canonical key of a node output: 'name' for output 0, 'name:i' otherwise. */
export function outputKey(node: string, index: number): string {
  return index === 0 ? node : `${node}:${index}`;
}

const text = new TextDecoder('utf-8');

/** Typed access to a NodeDef's attributes, with errors naming the node. */
export class NodeAttrs {
  constructor(
    readonly node: NodeDef,
    readonly file: string,
  ) {}

  private where(): string {
    return `node '${this.node.name ?? ''}' (${this.node.op ?? ''})`;
  }

  has(name: string): boolean {
    return this.node.attr?.[name] !== undefined;
  }

  raw(name: string): AttrValue | undefined {
    return this.node.attr?.[name] ?? undefined;
  }

  string(name: string, fallback?: string): string {
    const a = this.raw(name);
    if (a?.s) return text.decode(a.s);
    if (fallback !== undefined) return fallback;
    if (a) return '';
    throw new FormatError(`${this.where()} lacks attribute '${name}'`, { file: this.file });
  }

  int(name: string, fallback?: number): number {
    const a = this.raw(name);
    if (a && a.i !== undefined && a.i !== null) return int64ToNumber(a.i as Int64);
    if (fallback !== undefined) return fallback;
    if (a) return 0;
    throw new FormatError(`${this.where()} lacks attribute '${name}'`, { file: this.file });
  }

  float(name: string, fallback?: number): number {
    const a = this.raw(name);
    if (a && typeof a.f === 'number') return a.f;
    if (fallback !== undefined) return fallback;
    if (a) return 0;
    throw new FormatError(`${this.where()} lacks attribute '${name}'`, { file: this.file });
  }

  bool(name: string, fallback = false): boolean {
    const a = this.raw(name);
    return a && typeof a.b === 'boolean' ? a.b : fallback;
  }

  ints(name: string, fallback?: number[]): number[] {
    const a = this.raw(name);
    if (a?.list) return (a.list.i ?? []).map((v) => int64ToNumber(v as Int64));
    if (fallback !== undefined) return fallback;
    throw new FormatError(`${this.where()} lacks attribute '${name}'`, { file: this.file });
  }

  floats(name: string): number[] {
    return [...(this.raw(name)?.list?.f ?? [])];
  }

  strings(name: string): string[] {
    return (this.raw(name)?.list?.s ?? []).map((s) => text.decode(s));
  }

  dtype(name: string, fallback?: DType): DType {
    const a = this.raw(name);
    if (a?.type !== undefined && a.type !== null) return tfDType(a.type, `attribute '${name}' of ${this.where()}`, this.file);
    if (fallback !== undefined) return fallback;
    throw new FormatError(`${this.where()} lacks attribute '${name}'`, { file: this.file });
  }

  /** A shape attribute: dims (null unknown), or undefined for unknown rank / absent. */
  shape(name: string): (number | null)[] | undefined {
    const a = this.raw(name);
    return a?.shape ? shapeFromProto(a.shape) : undefined;
  }

  tensor(name: string): Tensor {
    const a = this.raw(name);
    if (!a?.tensor) throw new FormatError(`${this.where()} lacks tensor attribute '${name}'`, { file: this.file });
    return tensorFromTfProto(a.tensor, `tensor of ${this.where()}`, this.file);
  }
}

/** A readable one-line rendering of an attribute value, for `inspect`. */
export function describeAttr(a: AttrValue): string {
  if (a.list) {
    const l = a.list;
    if (l.i?.length) return `[${l.i.map((v) => int64ToNumber(v as Int64)).join(', ')}]`;
    if (l.f?.length) return `[${l.f.join(', ')}]`;
    if (l.s?.length) return `[${l.s.map((s) => JSON.stringify(text.decode(s))).join(', ')}]`;
    if (l.type?.length) return `[${l.type.map(tfDataTypeName).join(', ')}]`;
    if (l.shape?.length) return `[${l.shape.map((s) => `[${(shapeFromProto(s) ?? ['?']).map((d) => d ?? '?').join(',')}]`).join(', ')}]`;
    if (l.b?.length) return `[${l.b.join(', ')}]`;
    return '[]';
  }
  if (a.s) return JSON.stringify(text.decode(a.s));
  if (a.i !== undefined && a.i !== null) return String(int64ToNumber(a.i as Int64));
  if (typeof a.f === 'number') return String(a.f);
  if (typeof a.b === 'boolean') return String(a.b);
  if (a.type !== undefined && a.type !== null) return tfDataTypeName(a.type);
  if (a.shape) {
    const s = shapeFromProto(a.shape);
    return s ? `[${s.map((d) => d ?? '?').join(', ')}]` : '<unknown rank>';
  }
  if (a.tensor) return `tensor`;
  if (a.func) return `func ${a.func.name ?? ''}`;
  if (a.placeholder) return `$${a.placeholder}`;
  return '';
}

// A GraphDef too large to be one protobuf buffer (protobuf's 2 GiB limit; TensorFlow's own
// parser refuses it unless told otherwise) read without decoding it whole: the top-level `node`
// fields are scanned one by one, and inside a large NodeDef the `value` attribute's TensorProto
// is found and its tensor_content kept as an offset and length into the source, read only when
// the tensor is asked for. Everything else (names, ops, inputs, attributes, small nodes) is
// decoded by the generated code from its own few bytes.
import { FormatError } from '../../ir/errors.js';
import { fsError, nodeFs, openRegularFile } from '../../io/files.js';
import { tensorflow } from '../generated/tensorflow.js';
import { guardProtobufDecode } from '../protobuf-peek.js';
import { decodeProto, type GraphDef, type NodeDef } from './graph-def.js';
import { GRAPH_DEF } from './wire-schema.js';

/** Bytes of a file read by position: a view over bytes in memory, or positioned reads of a file. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

/** Protobuf's limit on one message: a GraphDef over it is read lazily. */
export const GRAPHDEF_LAZY_THRESHOLD = 2 ** 31 - 1;

/** A field above this many bytes is scanned into rather than decoded. */
const LARGE_FIELD = 1 << 20;

export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

interface Field {
  field: number;
  wire: number;
  /** where the field's key starts */
  start: number;
  /** where its payload starts (LEN: after the length) */
  body: number;
  /** where it ends */
  end: number;
}

class Scanner {
  constructor(
    readonly src: ByteSource,
    readonly file: string,
  ) {}

  private bad(what: string, at: number): FormatError {
    return new FormatError(`not a valid TensorFlow GraphDef: ${what}`, { file: this.file, offset: at });
  }

  /** A varint at `at` as a JS number (exact up to 2^53: offsets and lengths of any file). */
  varint(at: number, limit: number): { value: number; next: number } {
    const head = this.src.read(at, Math.min(10, limit - at));
    let value = 0;
    let scale = 1;
    for (let i = 0; i < head.length; i++) {
      const b = head[i]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return { value, next: at + i + 1 };
      scale *= 128;
    }
    throw this.bad('a varint runs past its message', at);
  }

  /** The fields of the message in [from, to). */
  *fields(from: number, to: number): Generator<Field> {
    let at = from;
    while (at < to) {
      const key = this.varint(at, to);
      const field = Math.floor(key.value / 8);
      const wire = key.value % 8;
      if (field === 0) throw this.bad('field number 0', at);
      let body = key.next;
      let end: number;
      if (wire === WIRE_VARINT) end = this.varint(body, to).next;
      else if (wire === WIRE_I64) end = body + 8;
      else if (wire === WIRE_I32) end = body + 4;
      else if (wire === WIRE_LEN) {
        const len = this.varint(body, to);
        body = len.next;
        end = body + len.value;
      } else throw this.bad(`wire type ${wire}`, at);
      if (end > to) throw this.bad(`field ${field} ends at ${end}, past its message's end ${to}`, at);
      yield { field, wire, start: at, body, end };
      at = end;
    }
  }

  /** The raw bytes of some fields, concatenated (what the generated decoder then reads). */
  concat(fields: Field[]): Uint8Array {
    const out = new Uint8Array(fields.reduce((n, f) => n + f.end - f.start, 0));
    let at = 0;
    for (const f of fields) {
      out.set(this.src.read(f.start, f.end - f.start), at);
      at += f.end - f.start;
    }
    return out;
  }
}

/** A TensorProto whose tensor_content is read from the source each time it is asked for. */
function lazyTensor(s: Scanner, from: number, to: number): tensorflow.TensorProto.$Properties {
  const rest: Field[] = [];
  let content: Field | undefined;
  for (const f of s.fields(from, to)) {
    if (f.field === 4 && f.wire === WIRE_LEN) content = f;
    else rest.push(f);
  }
  const proto = decodeProto(() => tensorflow.TensorProto.decode(s.concat(rest)), s.file, 'TensorFlow TensorProto');
  if (content) {
    const { body, end } = content;
    Object.defineProperty(proto, 'tensor_content', { get: () => s.src.read(body, end - body), enumerable: true, configurable: true });
  }
  return proto;
}

/** An AttrValue whose tensor (field 8) is read lazily. */
function lazyAttrValue(s: Scanner, from: number, to: number): tensorflow.AttrValue.$Properties {
  const rest: Field[] = [];
  let tensor: Field | undefined;
  for (const f of s.fields(from, to)) {
    if (f.field === 8 && f.wire === WIRE_LEN) tensor = f;
    else rest.push(f);
  }
  const value = decodeProto(() => tensorflow.AttrValue.decode(s.concat(rest)), s.file, 'TensorFlow AttrValue');
  if (tensor) value.tensor = lazyTensor(s, tensor.body, tensor.end);
  return value;
}

/** The decode-cost and depth guard every GraphDef decode gets, for one NodeDef's bytes (framed as a GraphDef's node). */
function guardNode(bytes: Uint8Array, file: string): Uint8Array {
  let len = bytes.length;
  const head = [0x0a];
  while (len >= 0x80) {
    head.push((len & 0x7f) | 0x80);
    len = Math.floor(len / 0x80);
  }
  head.push(len);
  const framed = new Uint8Array(head.length + bytes.length);
  framed.set(head);
  framed.set(bytes, head.length);
  guardProtobufDecode(framed, GRAPH_DEF, file, 'TensorFlow GraphDef node');
  return bytes;
}

/** A NodeDef whose large attributes (map entries over LARGE_FIELD bytes) are scanned, not decoded. */
function lazyNode(s: Scanner, from: number, to: number, large: number): NodeDef {
  if (to - from <= large) {
    const bytes = guardNode(s.src.read(from, to - from), s.file);
    return decodeProto(() => tensorflow.NodeDef.decode(bytes), s.file, 'TensorFlow NodeDef');
  }
  const rest: Field[] = [];
  const attrs: [string, tensorflow.AttrValue.$Properties][] = [];
  for (const f of s.fields(from, to)) {
    if (f.field !== 5 || f.wire !== WIRE_LEN || f.end - f.body <= large) {
      rest.push(f);
      continue;
    }
    // a map entry: key (1) and value (2)
    let key = '';
    let value: tensorflow.AttrValue.$Properties = {};
    for (const e of s.fields(f.body, f.end)) {
      if (e.field === 1 && e.wire === WIRE_LEN) key = new TextDecoder().decode(s.src.read(e.body, e.end - e.body));
      else if (e.field === 2 && e.wire === WIRE_LEN) value = lazyAttrValue(s, e.body, e.end);
    }
    attrs.push([key, value]);
  }
  const restBytes = guardNode(s.concat(rest), s.file);
  const node: NodeDef = decodeProto(() => tensorflow.NodeDef.decode(restBytes), s.file, 'TensorFlow NodeDef');
  node.attr = { ...(node.attr ?? {}), ...Object.fromEntries(attrs) };
  return node;
}

export interface LazyReadOptions {
  /** fields above this many bytes are scanned into instead of decoded (tests lower it) */
  largeField?: number;
}

/** The GraphDef in `src`, its nodes scanned one by one and its large tensors left in the source. */
export function decodeGraphDefLazily(src: ByteSource, file: string, options: LazyReadOptions = {}): GraphDef {
  const s = new Scanner(src, file);
  const large = options.largeField ?? LARGE_FIELD;
  const nodes: NodeDef[] = [];
  const rest: Field[] = [];
  for (const f of s.fields(0, src.size)) {
    if (f.field === 1 && f.wire === WIRE_LEN) nodes.push(lazyNode(s, f.body, f.end, large));
    else rest.push(f);
  }
  const restBytes = s.concat(rest);
  guardProtobufDecode(restBytes, GRAPH_DEF, file, 'TensorFlow GraphDef');
  const gd: GraphDef = decodeProto(() => tensorflow.GraphDef.decode(restBytes), file, 'TensorFlow GraphDef');
  return { ...gd, node: nodes };
}

/**
 * Node: a file read by positioned reads, never whole (for GraphDefs larger than one buffer may
 * be). `close()` once the tensors have been read.
 */
export function fileByteSource(path: string): ByteSource & { close(): void } {
  const fs = nodeFs();
  const { fd, size } = openRegularFile(path);
  return {
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      for (let p = 0; p < length; ) {
        let n: number;
        try {
          n = fs.readSync(fd, out, p, length - p, offset + p);
        } catch (e) {
          throw fsError(e, path, 'read');
        }
        if (n === 0) throw new FormatError(`file ends at ${offset + p} bytes, a field runs to ${offset + length}`, { file: path, offset: offset + p });
        p += n;
      }
      return out;
    },
    close: () => fs.closeSync(fd),
  };
}

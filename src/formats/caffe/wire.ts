// Binary protobuf (a .caffemodel) into Caffe messages, driven by the field table of
// proto/caffe.proto. Packed float blobs become one Float32Array each (a copy of their bytes,
// never a per-element JS array); lengths are checked against the bytes that are really there
// before anything is allocated.
import { FormatError } from '../../ir/errors.js';
import type { FieldDescriptor } from '../generated/caffe.js';
import { messageFields, newMessage, type Message } from './schema.js';

const MAX_DEPTH = 64;

/** Field number -> (name, descriptor), per message type, built once. */
const byNumber = new Map<string, Map<number, [string, FieldDescriptor]>>();
function fieldsByNumber(type: string): Map<number, [string, FieldDescriptor]> {
  let m = byNumber.get(type);
  if (!m) {
    m = new Map(Object.entries(messageFields(type)).map(([name, f]) => [f.id, [name, f]]));
    byNumber.set(type, m);
  }
  return m;
}

class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  error(message: string, offset = this.pos): FormatError {
    return new FormatError(message, { file: this.file, offset });
  }

  /** A varint as a JS number: exact up to 2^53; 10-byte negative int64s become negative numbers. */
  varint(): number {
    let lo = 0;
    let hi = 0;
    const at = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw this.error('truncated varint', at);
      const b = this.bytes[this.pos++]!;
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      if (!(b & 0x80)) {
        lo >>>= 0;
        return hi & 0x80000000 ? -((~hi >>> 0) * 4294967296 + ((~lo >>> 0) + 1)) : (hi >>> 0) * 4294967296 + lo;
      }
    }
    throw this.error('varint longer than 10 bytes', at);
  }

  length(): number {
    const at = this.pos;
    const n = this.varint();
    if (n < 0 || n > this.end - this.pos) throw this.error(`length ${n} runs past the end of the ${this.end === this.bytes.length ? 'file' : 'enclosing message'} (${this.end - this.pos} bytes left): truncated or corrupt`, at);
    return n;
  }

  skip(wire: number, field: number): void {
    const at = this.pos;
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8, at);
        return;
      case 2:
        this.pos += this.length();
        return;
      case 5:
        this.advance(4, at);
        return;
      default:
        throw this.error(`field ${field} has invalid wire type ${wire}`, at);
    }
  }

  advance(n: number, at: number): void {
    if (this.end - this.pos < n) throw this.error('truncated value', at);
    this.pos += n;
  }
}

/** Decode a binary message of `type` (default NetParameter). */
export function decodeCaffeBinary(bytes: Uint8Array, file: string, type = 'caffe.NetParameter'): Message {
  return decodeMessage(new Reader(bytes, file, 0, bytes.length), type, 0);
}

function decodeMessage(r: Reader, type: string, depth: number): Message {
  if (depth > MAX_DEPTH) throw r.error(`messages nested more than ${MAX_DEPTH} deep`);
  const fields = fieldsByNumber(type);
  const msg = newMessage(type);
  while (r.pos < r.end) {
    const at = r.pos;
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field === 0) throw r.error('field number 0', at);
    const entry = fields.get(field);
    if (!entry) {
      r.skip(wire, field);
      continue;
    }
    const [name, f] = entry;
    if (f.kind === 'message') {
      if (wire !== 2) throw r.error(`field '${name}' of ${type} has wire type ${wire}, expected a message`, at);
      const n = r.length();
      const child = decodeMessage(new Reader(r.bytes, r.file, r.pos, r.pos + n), f.type, depth + 1);
      r.pos += n;
      put(msg, name, f, child, r, at);
      continue;
    }
    if (f.type === 'string' || f.type === 'bytes') {
      if (wire !== 2) throw r.error(`field '${name}' of ${type} has wire type ${wire}, expected a length-delimited string`, at);
      const n = r.length();
      const slice = r.bytes.subarray(r.pos, r.pos + n);
      r.pos += n;
      put(msg, name, f, f.type === 'string' ? new TextDecoder('utf-8').decode(slice) : slice, r, at);
      continue;
    }
    if (wire === 2 && !f.repeated && f.type !== 'string' && f.type !== 'bytes') {
      // A fork's schema may declare repeated (and pack) what Caffe's declares singular: keep the
      // last value, as protobuf does for a singular field seen several times.
      const n = r.length();
      const sub = new Reader(r.bytes, r.file, r.pos, r.pos + n);
      let last: number | boolean | undefined;
      while (sub.pos < sub.end) last = scalar(sub, f, undefined, name, type);
      r.pos += n;
      if (last !== undefined) put(msg, name, f, last, r, at);
      continue;
    }
    if (wire === 2 && f.repeated) {
      // packed run of scalars
      const n = r.length();
      const end = r.pos + n;
      if (f.type === 'float' || f.type === 'double') {
        const size = f.type === 'float' ? 4 : 8;
        if (n % size) throw r.error(`packed ${f.type} field '${name}' has ${n} bytes, not a multiple of ${size}`, at);
        const copy = r.bytes.slice(r.pos, end);
        const arr = f.type === 'float' ? new Float32Array(copy.buffer, 0, n / 4) : new Float64Array(copy.buffer, 0, n / 8);
        appendTyped(msg, name, arr);
        r.pos = end;
        continue;
      }
      const sub = new Reader(r.bytes, r.file, r.pos, end);
      const vals: number[] = [];
      while (sub.pos < end) vals.push(scalar(sub, f, undefined, name, type) as number);
      r.pos = end;
      const prev = (msg[name] as number[] | undefined) ?? [];
      msg[name] = prev.concat(vals);
      continue;
    }
    put(msg, name, f, scalar(r, f, wire, name, type), r, at);
  }
  return msg;
}

/** One scalar; `wire` is undefined inside a packed run, where the wire type is implied. */
function scalar(r: Reader, f: FieldDescriptor, wire: number | undefined, name: string, type: string): number | boolean {
  const at = r.pos;
  const want = f.type === 'float' || f.type === 'fixed32' || f.type === 'sfixed32' ? 5 : f.type === 'double' || f.type === 'fixed64' || f.type === 'sfixed64' ? 1 : 0;
  if (wire !== undefined && wire !== want) throw r.error(`field '${name}' of ${type} has wire type ${wire}, expected ${want}`, at);
  const dv = new DataView(r.bytes.buffer, r.bytes.byteOffset);
  switch (f.type) {
    case 'float':
      r.advance(4, at);
      return dv.getFloat32(at, true);
    case 'double':
      r.advance(8, at);
      return dv.getFloat64(at, true);
    case 'bool':
      return r.varint() !== 0;
    case 'int32':
      return r.varint() | 0;
    default: {
      if (f.kind === 'enum') return r.varint() | 0;
      const v = r.varint();
      if (f.type === 'uint32') return v >>> 0;
      return v;
    }
  }
}

function put(msg: Message, name: string, f: FieldDescriptor, value: unknown, r: Reader, at: number): void {
  if (!f.repeated) {
    // Protobuf merges a repeated occurrence of a singular message; Caffe never writes one, and
    // taking the last value is what protobuf does for scalars.
    msg[name] = value;
    return;
  }
  const prev = msg[name];
  if (prev === undefined) msg[name] = [value];
  else if (Array.isArray(prev)) prev.push(value);
  else if (typeof value === 'number') appendTyped(msg, name, Float64Array.of(value));
  else throw r.error(`field '${name}' mixes packed and unpacked values`, at);
}

/** Append to a repeated float field, keeping it one typed array. */
function appendTyped(msg: Message, name: string, arr: Float32Array | Float64Array): void {
  const prev = msg[name];
  if (prev === undefined) {
    msg[name] = arr;
    return;
  }
  const a = prev as ArrayLike<number>;
  const Ctor = arr instanceof Float32Array && (prev instanceof Float32Array || Array.isArray(prev)) ? Float32Array : Float64Array;
  const out = new Ctor(a.length + arr.length);
  out.set(a);
  out.set(arr, a.length);
  msg[name] = out;
}

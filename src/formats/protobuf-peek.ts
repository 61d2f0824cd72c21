// Reading protobuf at the wire level, without decoding it: the first fields of a message for
// format detection (shared by the ONNX, TensorFlow and Caffe detectors), and a tally of what a
// decoder would allocate for a whole message (guardProtobufDecode), so that a small file that
// would decode into gigabytes of objects is refused before the decoder runs. The peeking
// functions know the wire format only, never a schema, and never throw.
import { checkRank, ReadBudget, resourceLimits } from '../ir/budget.js';
import { FormatError } from '../ir/errors.js';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

export interface PeekedField {
  field: number;
  wire: number;
  /** varint value (exact up to 2^53) */
  value?: number;
  /** LEN fields: where the payload starts and its declared length */
  start?: number;
  length?: number;
  /** LEN fields: the whole payload is inside `bytes` */
  complete?: boolean;
}

function readVarint(b: Uint8Array, pos: number): [number, number] | undefined {
  let v = 0;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= b.length) return undefined;
    const byte = b[pos + i]!;
    v += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) return [v, pos + i + 1];
  }
  return undefined;
}

/**
 * The fields at the top level of `bytes` (up to `max`), in file order. Stops at the end of the
 * bytes or at the first field that cannot be a valid field (returned as `{field: -1}`), so a
 * caller can tell "ran out of bytes" from "not protobuf".
 */
export function peekFields(bytes: Uint8Array, max = 16): PeekedField[] {
  const out: PeekedField[] = [];
  let pos = 0;
  while (out.length < max && pos < bytes.length) {
    const tag = readVarint(bytes, pos);
    if (!tag) break;
    const [key, afterTag] = tag;
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0 || field > 536870911) return [...out, { field: -1, wire }];
    pos = afterTag;
    if (wire === WIRE_VARINT) {
      const v = readVarint(bytes, pos);
      if (!v) {
        if (bytes.length - pos < 10) out.push({ field, wire }); // cut off by the end of the head
        break;
      }
      out.push({ field, wire, value: v[0] });
      pos = v[1];
    } else if (wire === WIRE_LEN) {
      const len = readVarint(bytes, pos);
      if (!len) break;
      const start = len[1];
      const complete = start + len[0] <= bytes.length;
      out.push({ field, wire, start, length: len[0], complete });
      if (!complete) break;
      pos = start + len[0];
    } else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) {
      out.push({ field, wire });
      pos += wire === WIRE_FIXED64 ? 8 : 4;
    } else {
      return [...out, { field: -1, wire }]; // groups (3, 4) are not used by any schema we detect; 6, 7 are invalid
    }
  }
  return out;
}

/** The payload bytes of a LEN field that lie inside `bytes`. */
export function payload(bytes: Uint8Array, f: PeekedField): Uint8Array {
  return bytes.subarray(f.start ?? 0, Math.min(bytes.length, (f.start ?? 0) + (f.length ?? 0)));
}

/**
 * Printable UTF-8 text: no control characters but tab (and CR/LF when `multiline`). When the
 * bytes were cut off by the end of the head (`truncated`), a partial last character is fine.
 */
export function isPrintableText(bytes: Uint8Array, multiline = false, truncated = false): boolean {
  for (const b of bytes) {
    if ((b >= 0x20 && b !== 0x7f) || b === 0x09 || (multiline && (b === 0x0a || b === 0x0d))) continue;
    return false;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: truncated });
    return true;
  } catch {
    return false;
  }
}

/** Lower-cased file name ends with one of `exts`. */
export function hasExtension(fileName: string | undefined, exts: readonly string[]): boolean {
  const lower = (fileName ?? '').toLowerCase();
  return exts.some((e) => lower.endsWith(e));
}

// ---- the cost of decoding a message, counted before decoding it ----

/**
 * What a decoder allocates for one field of a message, for the fields that matter: a
 * sub-message (an object with its repeated fields' arrays; recursed into), a repeated int64
 * (one Long object per element), other repeated scalars (`width`: 4 or 8 bytes per packed
 * element, 0 for varints), and strings/bytes (one object each). `rank` names a repeated field
 * whose count is a tensor's rank (ONNX dims, TensorShapeProto.dim). Unlisted fields are skipped
 * by the decoder, and here.
 */
export type WireField =
  | { kind: 'message'; schema: () => WireSchema; rank?: string }
  | { kind: 'int64'; rank?: string }
  | { kind: 'scalars'; width: 0 | 4 | 8 }
  | { kind: 'bytes' };
export type WireSchema = Readonly<Record<number, WireField>>;

export interface WireTally {
  messages: number;
  longs: number;
  scalars: number;
  strings: number;
  /** the first repeated `rank` field over the limit (the walk stops there) */
  overRank?: { what: string; rank: number; offset: number };
  /** offset of a message nested deeper than the limit (the walk stops there) */
  tooDeep?: number;
}

/**
 * Walk a serialized message by its schema sketch and count what decoding it would allocate.
 * Malformed wire data ends the walk quietly (the decoder then reports it). Iterative over
 * fields, recursive over nesting (bounded by `maxDepth`).
 */
export function tallyMessage(bytes: Uint8Array, schema: WireSchema, limits: { maxRank: number; maxDepth: number }): WireTally {
  const t: WireTally = { messages: 1, longs: 0, scalars: 0, strings: 0 };
  walkMessage(bytes, 0, bytes.length, schema, 0, t, limits);
  return t;
}

/** Varint terminators (bytes below 0x80) in [start, end): the number of packed varints. */
function countVarints(b: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if (b[i]! < 0x80) n++;
  return n;
}

function walkMessage(b: Uint8Array, start: number, end: number, schema: WireSchema, depth: number, t: WireTally, limits: { maxRank: number; maxDepth: number }): boolean {
  let ranks: Map<number, number> | undefined;
  const countRank = (field: number, what: string, k: number, at: number): boolean => {
    ranks ??= new Map();
    const n = (ranks.get(field) ?? 0) + k;
    ranks.set(field, n);
    if (n > limits.maxRank) {
      t.overRank = { what, rank: n, offset: at };
      return false;
    }
    return true;
  };
  let pos = start;
  while (pos < end) {
    const at = pos;
    const tag = readVarint(b, pos);
    if (!tag || tag[1] > end) return true;
    const field = Math.floor(tag[0] / 8);
    const wire = tag[0] % 8;
    pos = tag[1];
    const f = schema[field];
    if (wire === WIRE_VARINT) {
      const v = readVarint(b, pos);
      if (!v) return true;
      pos = v[1];
      if (f?.kind === 'int64') {
        t.longs++;
        // count the whole repeated field, not only this message's share of a rank check
        if (f.rank && !countRank(field, f.rank, 1, at)) return false;
      } else if (f?.kind === 'scalars') t.scalars++;
    } else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) {
      pos += wire === WIRE_FIXED64 ? 8 : 4;
      if (f?.kind === 'scalars') t.scalars++;
    } else if (wire === WIRE_LEN) {
      const len = readVarint(b, pos);
      if (!len) return true;
      const from = len[1];
      const to = from + len[0];
      if (to > end) return true;
      pos = to;
      if (!f) continue;
      if (f.kind === 'message') {
        t.messages++;
        if (f.rank && !countRank(field, f.rank, 1, at)) return false;
        if (depth + 1 > limits.maxDepth) {
          t.tooDeep = at;
          return false;
        }
        if (!walkMessage(b, from, to, f.schema(), depth + 1, t, limits)) return false;
      } else if (f.kind === 'int64') {
        const n = countVarints(b, from, to);
        t.longs += n;
        if (f.rank && !countRank(field, f.rank, n, at)) return false;
      } else if (f.kind === 'scalars') {
        t.scalars += f.width ? Math.ceil(len[0] / f.width) : countVarints(b, from, to);
      } else t.strings++;
    } else return true; // groups and invalid wire types: the decoder reports them
  }
  return true;
}

/**
 * Upper bounds of what protobufjs allocates, measured with Node 22 on ONNX messages (an empty
 * TensorProto with its eight repeated-field arrays: ~410 bytes; a Long: ~90; a string or
 * Buffer view: ~100).
 */
const DECODED_BYTES = { message: 512, long: 96, scalar: 16, string: 128 };
/** Deeper than any real model nests (64 subgraphs deep is 3 messages a level), shallow enough for the decoder's recursion. */
const MAX_DEPTH = 400;

/**
 * Throws before a protobuf message is decoded when decoding it would exceed the reader's memory
 * budget (a 10 MB file of empty sub-messages decodes into gigabytes of objects), when a tensor's
 * dims list is longer than the rank limit (a ResourceError, not minutes of decoding), or when it
 * nests deeper than a decoder's stack allows. `what` names the message ("ONNX model").
 */
export function guardProtobufDecode(bytes: Uint8Array, schema: WireSchema, file: string, what: string): void {
  const t = tallyMessage(bytes, schema, { maxRank: resourceLimits().maxRank, maxDepth: MAX_DEPTH });
  if (t.overRank) checkRank(t.overRank.rank, `${file}: ${t.overRank.what} at offset ${t.overRank.offset}`);
  if (t.tooDeep !== undefined) throw new FormatError(`${what} nests messages more than ${MAX_DEPTH} deep`, { file, offset: t.tooDeep });
  const cost = t.messages * DECODED_BYTES.message + t.longs * DECODED_BYTES.long + t.scalars * DECODED_BYTES.scalar + t.strings * DECODED_BYTES.string;
  new ReadBudget(file, bytes.byteLength).take(cost, `decoding the ${what} (${t.messages} messages, ${t.longs + t.scalars} numbers, ${t.strings} strings)`);
}

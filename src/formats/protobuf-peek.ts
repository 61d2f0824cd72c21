// Reading the first fields of a protobuf message from a file's first bytes, for format
// detection. Shared by the protobuf formats' detectors (ONNX, TensorFlow, Caffe): it knows the
// wire format only, never a schema. It never throws and never reads past `bytes`.

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

// Snappy block decompression (the raw format LevelDB tables use; no framing). Every length and
// back-reference is checked against the input and the declared output size before use.
import { FormatError } from '../../ir/errors.js';

/** Largest block nnport inflates: table blocks are a few KiB; refuse what a file merely claims. */
export const MAX_SNAPPY_OUTPUT = 1 << 26;

export function snappyUncompress(input: Uint8Array, where: { file: string; offset: number }): Uint8Array {
  const fail = (what: string, at: number) => new FormatError(`Snappy block: ${what}`, { file: where.file, offset: where.offset + at });
  let pos = 0;
  let size = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= input.length || shift > 28) throw fail('bad uncompressed length', pos);
    const b = input[pos++]!;
    size += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  if (size > MAX_SNAPPY_OUTPUT) throw fail(`claims ${size} bytes uncompressed (limit ${MAX_SNAPPY_OUTPUT})`, 0);
  const out = new Uint8Array(size);
  let o = 0;
  while (pos < input.length) {
    const tag = input[pos++]!;
    const kind = tag & 3;
    if (kind === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const n = len - 59;
        if (pos + n > input.length) throw fail('truncated literal length', pos);
        len = 0;
        for (let i = 0; i < n; i++) len += input[pos + i]! * 2 ** (8 * i);
        pos += n;
      }
      len += 1;
      if (pos + len > input.length) throw fail('literal runs past the end of the block', pos);
      if (o + len > size) throw fail('literal runs past the declared size', pos);
      out.set(input.subarray(pos, pos + len), o);
      pos += len;
      o += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      if (pos + 1 > input.length) throw fail('truncated copy', pos);
      len = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | input[pos]!;
      pos += 1;
    } else if (kind === 2) {
      if (pos + 2 > input.length) throw fail('truncated copy', pos);
      len = (tag >>> 2) + 1;
      offset = input[pos]! | (input[pos + 1]! << 8);
      pos += 2;
    } else {
      if (pos + 4 > input.length) throw fail('truncated copy', pos);
      len = (tag >>> 2) + 1;
      offset = (input[pos]! | (input[pos + 1]! << 8) | (input[pos + 2]! << 16) | (input[pos + 3]! << 24)) >>> 0;
      pos += 4;
    }
    if (offset === 0 || offset > o) throw fail(`copy from ${offset} bytes back at output ${o}`, pos);
    if (o + len > size) throw fail('copy runs past the declared size', pos);
    // overlapping copies repeat the last `offset` bytes, so copy byte by byte
    for (let i = 0; i < len; i++, o++) out[o] = out[o - offset]!;
  }
  if (o !== size) throw fail(`inflated to ${o} bytes, declared ${size}`, pos);
  return out;
}

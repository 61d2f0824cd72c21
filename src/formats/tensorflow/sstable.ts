// The LevelDB table format of a tensor bundle's .index: data blocks of prefix-compressed
// keys with restart points, an index block pointing at them, and a 48-byte footer ending in
// the table magic. Blocks may be Snappy-compressed; every block's masked CRC-32C is checked.
import { FormatError } from '../../ir/errors.js';
import { crc32c, maskCrc } from './crc32c.js';
import { snappyUncompress } from './snappy.js';

const FOOTER_SIZE = 48;
const MAGIC_LO = 0x8b80fb57;
const MAGIC_HI = 0xdb477524;
const BLOCK_TRAILER = 5;
/** Most entries read from one table (bounded work on hostile files). */
const MAX_ENTRIES = 10_000_000;

export interface TableEntry {
  key: Uint8Array;
  value: Uint8Array;
}

interface Handle {
  offset: number;
  size: number;
}

class Cursor {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
    readonly base: number,
    start = 0,
  ) {
    this.pos = start;
  }

  varint(what: string): number {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.bytes.length) throw new FormatError(`truncated ${what}`, { file: this.file, offset: this.base + this.pos });
      const b = this.bytes[this.pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        if (!Number.isSafeInteger(v)) throw new FormatError(`${what} too large`, { file: this.file, offset: this.base + this.pos });
        return v;
      }
    }
    throw new FormatError(`bad varint in ${what}`, { file: this.file, offset: this.base + this.pos });
  }
}

function readHandle(c: Cursor, what: string): Handle {
  return { offset: c.varint(`${what} offset`), size: c.varint(`${what} size`) };
}

/** A block's contents, checked and inflated. */
function readBlock(bytes: Uint8Array, h: Handle, file: string, what: string): Uint8Array {
  if (h.offset + h.size + BLOCK_TRAILER > bytes.length - FOOTER_SIZE) {
    throw new FormatError(`${what} [${h.offset}, +${h.size}] lies outside the file (${bytes.length} bytes)`, { file, offset: h.offset });
  }
  const data = bytes.subarray(h.offset, h.offset + h.size);
  const type = bytes[h.offset + h.size]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + h.offset + h.size + 1, 4);
  const stored = dv.getUint32(0, true);
  const actual = maskCrc(crc32c(bytes.subarray(h.offset, h.offset + h.size + 1)));
  if (stored !== actual) throw new FormatError(`${what} fails its CRC-32C check (stored ${hex(stored)}, computed ${hex(actual)})`, { file, offset: h.offset });
  if (type === 0) return data;
  if (type === 1) return snappyUncompress(data, { file, offset: h.offset });
  throw new FormatError(`${what} has unknown compression type ${type}`, { file, offset: h.offset });
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/** The entries of one block, in order; keys are rebuilt from their shared prefixes. */
function blockEntries(block: Uint8Array, file: string, base: number, out: TableEntry[]): void {
  if (block.length < 4) throw new FormatError('table block shorter than its restart count', { file, offset: base });
  const dv = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const restarts = dv.getUint32(block.length - 4, true);
  const end = block.length - 4 - 4 * restarts;
  if (restarts === 0 || end < 0) throw new FormatError(`table block claims ${restarts} restart points`, { file, offset: base });
  for (let i = 0; i < restarts; i++) {
    const r = dv.getUint32(end + 4 * i, true);
    if (r >= end && !(r === 0 && end === 0)) throw new FormatError(`table block restart point ${r} is outside its ${end} bytes of entries`, { file, offset: base });
  }
  const c = new Cursor(block.subarray(0, end), file, base);
  let key = new Uint8Array(0);
  while (c.pos < end) {
    const shared = c.varint('key prefix length');
    const unshared = c.varint('key length');
    const valueLen = c.varint('value length');
    if (shared > key.length) throw new FormatError(`table entry shares ${shared} bytes with a ${key.length}-byte key`, { file, offset: base + c.pos });
    if (c.pos + unshared + valueLen > end) throw new FormatError('table entry runs past its block', { file, offset: base + c.pos });
    const next = new Uint8Array(shared + unshared);
    next.set(key.subarray(0, shared));
    next.set(block.subarray(c.pos, c.pos + unshared), shared);
    key = next;
    c.pos += unshared;
    out.push({ key, value: block.subarray(c.pos, c.pos + valueLen) });
    c.pos += valueLen;
    if (out.length > MAX_ENTRIES) throw new FormatError(`table has more than ${MAX_ENTRIES} entries`, { file });
  }
}

/** Every entry of a LevelDB table, in key order. */
export function readTable(bytes: Uint8Array, file: string): TableEntry[] {
  if (bytes.length < FOOTER_SIZE) throw new FormatError(`too short for a table (${bytes.length} bytes, the footer alone is ${FOOTER_SIZE})`, { file });
  const footerAt = bytes.length - FOOTER_SIZE;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(bytes.length - 8, true) !== MAGIC_LO || dv.getUint32(bytes.length - 4, true) !== MAGIC_HI) {
    throw new FormatError('not a tensor-bundle index: the table magic number is missing from the footer', { file, offset: bytes.length - 8 });
  }
  const footer = new Cursor(bytes.subarray(footerAt, bytes.length - 8), file, footerAt);
  readHandle(footer, 'metaindex handle');
  const indexHandle = readHandle(footer, 'index handle');
  const index: TableEntry[] = [];
  blockEntries(readBlock(bytes, indexHandle, file, 'index block'), file, indexHandle.offset, index);
  const entries: TableEntry[] = [];
  for (const e of index) {
    const h = readHandle(new Cursor(e.value, file, indexHandle.offset), 'block handle');
    blockEntries(readBlock(bytes, h, file, `data block at ${h.offset}`), file, h.offset, entries);
  }
  return entries;
}

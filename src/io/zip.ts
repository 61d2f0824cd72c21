// A zip container reader and writer: stored and deflated entries, zip64, no streaming.
// Generic: PyTorch checkpoints, .npz and any other zip-based format use it. Reading keeps stored
// entries as views over the caller's bytes (no copy); deflated entries are inflated on demand.
import { ReadBudget } from '../ir/budget.js';
import { Inflate } from 'fflate';
import { FormatError } from '../ir/errors.js';

export interface ZipEntry {
  /** name as stored, '/'-separated */
  readonly name: string;
  /** 0 = stored, 8 = deflated */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  /** offset of the local file header */
  readonly headerOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;

/** Deflate cannot expand data by more than about 1032:1; a larger claim is a lie (a zip bomb). */
const MAX_DEFLATE_RATIO = 1032;

/** True when the bytes start like a zip archive (a local file header or an empty archive). */
export function isZip(head: Uint8Array): boolean {
  if (head.byteLength < 4) return false;
  const sig = head[0]! | (head[1]! << 8) | (head[2]! << 16) | (head[3]! << 24);
  return sig === SIG_LOCAL || sig === SIG_EOCD;
}

/** The name of the first entry, read from the first local header (for format detection). */
export function firstZipEntryName(head: Uint8Array): string | undefined {
  if (!isZip(head) || head.byteLength < 30) return undefined;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (dv.getUint32(0, true) !== SIG_LOCAL) return undefined;
  const n = dv.getUint16(26, true);
  if (30 + n > head.byteLength) return undefined;
  return new TextDecoder().decode(head.subarray(30, 30 + n));
}

/** Refuse names that could escape a folder when extracted, or that are not plain relative paths. */
function checkEntryName(name: string, file: string, offset: number): void {
  if (name.length === 0) throw new FormatError('zip entry with an empty name', { file, offset });
  const parts = name.split(/[\\/]/);
  if (name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name) || parts.includes('..') || name.includes('\0')) {
    throw new FormatError(`refusing zip entry '${name}': entry names must be relative paths without '..'`, { file, offset });
  }
}

export class ZipReader {
  readonly fileName: string;
  readonly entries: ReadonlyMap<string, ZipEntry>;
  private readonly bytes: Uint8Array;
  private readonly dv: DataView;
  /**
   * inflated bytes are bounded per archive (honest deflate can still be a 1000:1 bomb); a reader
   * that materializes more from the entries (PyTorch's strided views) takes from the same budget
   */
  readonly budget: ReadBudget;

  private constructor(bytes: Uint8Array, fileName: string, entries: Map<string, ZipEntry>) {
    this.bytes = bytes;
    this.budget = new ReadBudget(fileName, bytes.byteLength);
    this.fileName = fileName;
    this.entries = entries;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Parse the central directory. Throws FormatError for anything malformed or hostile. */
  static open(bytes: Uint8Array, fileName = '<zip>'): ZipReader {
    const file = fileName;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const len = bytes.byteLength;
    if (len < 22) throw new FormatError('not a zip archive (too short for an end-of-central-directory record)', { file });
    // The EOCD record sits in the last 22 + 65535 (comment) bytes.
    let eocd = -1;
    for (let p = len - 22; p >= Math.max(0, len - 22 - 65535); p--) {
      if (dv.getUint32(p, true) === SIG_EOCD) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) throw new FormatError('not a zip archive or truncated: no end-of-central-directory record', { file });
    let count = dv.getUint16(eocd + 10, true);
    let cdSize = dv.getUint32(eocd + 12, true);
    let cdOffset = dv.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || dv.getUint32(loc, true) !== SIG_EOCD64_LOCATOR) throw new FormatError('zip64 archive without a zip64 locator', { file, offset: eocd });
      const rec = readU64(dv, loc + 8, file);
      if (rec + 56 > len || dv.getUint32(rec, true) !== SIG_EOCD64) throw new FormatError('bad zip64 end-of-central-directory record', { file, offset: rec });
      count = readU64(dv, rec + 32, file);
      cdSize = readU64(dv, rec + 40, file);
      cdOffset = readU64(dv, rec + 48, file);
    }
    if (cdOffset + cdSize > len) throw new FormatError(`central directory (${cdSize} bytes at ${cdOffset}) lies outside the file (${len} bytes)`, { file });
    // Each central record is at least 46 bytes: a count that cannot fit is a lie, and we never preallocate it.
    if (count * 46 > cdSize) throw new FormatError(`zip claims ${count} entries but its central directory holds at most ${Math.floor(cdSize / 46)}`, { file });
    const entries = new Map<string, ZipEntry>();
    const dec = new TextDecoder('utf-8', { fatal: false });
    let p = cdOffset;
    const end = cdOffset + cdSize;
    for (let i = 0; i < count; i++) {
      if (p + 46 > end || dv.getUint32(p, true) !== SIG_CENTRAL) throw new FormatError('corrupt zip central directory', { file, offset: p });
      const method = dv.getUint16(p + 10, true);
      const crc32 = dv.getUint32(p + 16, true);
      let compressedSize = dv.getUint32(p + 20, true);
      let size = dv.getUint32(p + 24, true);
      const nameLen = dv.getUint16(p + 28, true);
      const extraLen = dv.getUint16(p + 30, true);
      const commentLen = dv.getUint16(p + 32, true);
      let headerOffset = dv.getUint32(p + 42, true);
      const nameStart = p + 46;
      if (nameStart + nameLen + extraLen + commentLen > end) throw new FormatError('corrupt zip central directory entry', { file, offset: p });
      const name = dec.decode(bytes.subarray(nameStart, nameStart + nameLen));
      // zip64 extended information: only the fields that are saturated in the record are present, in this order.
      let q = nameStart + nameLen;
      const extraEnd = q + extraLen;
      while (q + 4 <= extraEnd) {
        const id = dv.getUint16(q, true);
        const n = dv.getUint16(q + 2, true);
        if (q + 4 + n > extraEnd) break;
        if (id === 0x0001) {
          let r = q + 4;
          const take = (): number => {
            if (r + 8 > q + 4 + n) throw new FormatError(`truncated zip64 field of '${name}'`, { file, offset: r });
            const v = readU64(dv, r, file);
            r += 8;
            return v;
          };
          if (size === 0xffffffff) size = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (headerOffset === 0xffffffff) headerOffset = take();
        }
        q += 4 + n;
      }
      checkEntryName(name, file, p);
      if (method !== 0 && method !== 8) throw new FormatError(`zip entry '${name}' uses compression method ${method}; only stored and deflated entries are supported`, { file, offset: p });
      if (headerOffset + 30 > len) throw new FormatError(`zip entry '${name}' points outside the file`, { file, offset: p });
      if (entries.has(name)) throw new FormatError(`zip archive holds '${name}' twice`, { file, offset: p });
      if (!name.endsWith('/')) entries.set(name, { name, method, compressedSize, size, crc32, headerOffset });
      p = extraEnd + commentLen;
    }
    return new ZipReader(bytes, fileName, entries);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) throw new FormatError(`zip entry '${name}' is missing`, { file: this.fileName });
    return e;
  }

  /** The entry's raw (possibly compressed) bytes, a view into the archive. */
  private rawData(e: ZipEntry): Uint8Array {
    const dv = this.dv;
    const file = this.fileName;
    if (dv.getUint32(e.headerOffset, true) !== SIG_LOCAL) throw new FormatError(`bad local header for zip entry '${e.name}'`, { file, offset: e.headerOffset });
    const start = e.headerOffset + 30 + dv.getUint16(e.headerOffset + 26, true) + dv.getUint16(e.headerOffset + 28, true);
    if (start + e.compressedSize > this.bytes.byteLength) {
      throw new FormatError(`zip entry '${e.name}' (${e.compressedSize} bytes at ${start}) runs past the end of the file (${this.bytes.byteLength} bytes)`, { file, offset: start });
    }
    return this.bytes.subarray(start, start + e.compressedSize);
  }

  /**
   * The entry's contents. Stored entries are views over the archive's bytes (no copy);
   * deflated ones are inflated in slices, after checking that the directory's claimed size is
   * possible for that much compressed data; memory follows what really inflates.
   */
  read(name: string): Uint8Array {
    const e = this.entry(name);
    const raw = this.rawData(e);
    if (e.method === 0) {
      if (e.size !== e.compressedSize) throw new FormatError(`stored zip entry '${name}' has different sizes (${e.size} vs ${e.compressedSize})`, { file: this.fileName });
      return raw;
    }
    if (e.size > raw.byteLength * MAX_DEFLATE_RATIO + 1024) {
      throw new FormatError(`zip entry '${name}' claims ${e.size} bytes from ${raw.byteLength} compressed bytes, more than deflate can produce`, { file: this.fileName });
    }
    this.budget.take(e.size, `inflating zip entry '${name}' (${raw.byteLength} compressed bytes)`);
    const out = this.inflateBounded(name, raw, e.size);
    if (out.byteLength !== e.size) throw new FormatError(`zip entry '${name}' inflates to ${out.byteLength} bytes, the directory says ${e.size}`, { file: this.fileName });
    return out;
  }

  /**
   * Inflate in slices, keeping only what was really produced: memory follows the data, never
   * the directory's claim, and output beyond the claim stops the inflation at once.
   */
  private inflateBounded(name: string, raw: Uint8Array, claimed: number): Uint8Array {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const inflater = new Inflate((chunk) => {
      total += chunk.byteLength;
      if (total > claimed) throw new FormatError(`zip entry '${name}' inflates to more than the ${claimed} bytes the directory says`, { file: this.fileName });
      chunks.push(chunk);
    });
    const SLICE = 1 << 16;
    try {
      for (let p = 0; p < raw.byteLength || p === 0; p += SLICE) {
        inflater.push(raw.subarray(p, Math.min(raw.byteLength, p + SLICE)), p + SLICE >= raw.byteLength);
      }
    } catch (err) {
      if (err instanceof FormatError) throw err;
      throw new FormatError(`zip entry '${name}' does not inflate: ${(err as Error).message}`, { file: this.fileName }, { cause: err });
    }
    if (chunks.length === 1) return chunks[0]!;
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }

  /** Read and check the CRC-32 (the reader does not check it by default: it costs a pass over the data). */
  readVerified(name: string): Uint8Array {
    const data = this.read(name);
    const e = this.entry(name);
    if (crc32(data) !== e.crc32) throw new FormatError(`zip entry '${name}' fails its CRC-32 check`, { file: this.fileName });
    return data;
  }
}

function readU64(dv: DataView, p: number, file: string): number {
  if (p < 0 || p + 8 > dv.byteLength) throw new FormatError('truncated zip64 field', { file, offset: p });
  const v = dv.getBigUint64(p, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`zip64 value ${v} is too large`, { file, offset: p });
  return Number(v);
}

// ---- CRC-32 (IEEE), slicing by 8 ----

let CRC_TABLES: Uint32Array | undefined;
function crcTables(): Uint32Array {
  if (CRC_TABLES) return CRC_TABLES;
  const t = new Uint32Array(256 * 8);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    let c = t[i]!;
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[s * 256 + i] = c;
    }
  }
  return (CRC_TABLES = t);
}

export function crc32(data: Uint8Array, seed = 0): number {
  const t = crcTables();
  let c = ~seed >>> 0;
  let i = 0;
  const n = data.byteLength;
  const n8 = n - (n % 8);
  for (; i < n8; i += 8) {
    const a = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    c =
      t[7 * 256 + (a & 0xff)]! ^
      t[6 * 256 + ((a >>> 8) & 0xff)]! ^
      t[5 * 256 + ((a >>> 16) & 0xff)]! ^
      t[4 * 256 + (a >>> 24)]! ^
      t[3 * 256 + data[i + 4]!]! ^
      t[2 * 256 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
  }
  for (; i < n; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// ---- writer ----

export interface ZipWriteEntry {
  name: string;
  data: Uint8Array;
}

export interface ZipWriteOptions {
  /** align each entry's data to this many bytes (PyTorch uses 64) by padding the local header's extra field */
  align?: number;
}

/**
 * A zip archive of stored (uncompressed) entries, zip64 where sizes or offsets need it.
 * Stored, so that readers can map the data in place (NumPy, PyTorch and nnport all do).
 */
export function writeZip(entries: readonly ZipWriteEntry[], options: ZipWriteOptions = {}): Uint8Array {
  const align = options.align ?? 1;
  const enc = new TextEncoder();
  const prepared = entries.map((e) => {
    checkEntryName(e.name, '<zip writer>', 0);
    return { name: enc.encode(e.name), data: e.data, crc: crc32(e.data), offset: 0, localExtra: 0, zip64: false };
  });
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) throw new FormatError(`zip entry '${e.name}' written twice`, { file: '<zip writer>' });
    seen.add(e.name);
  }
  // Layout pass: offsets, zip64 need, alignment padding.
  let pos = 0;
  for (const e of prepared) {
    e.offset = pos;
    e.zip64 = e.data.byteLength >= 0xffffffff || pos >= 0xffffffff;
    const base = pos + 30 + e.name.byteLength + (e.zip64 ? 20 : 0);
    let pad = 0;
    if (align > 1 && base % align !== 0) {
      pad = align - (base % align);
      if (pad < 4) pad += align; // room for the padding field's own 4-byte header
    }
    e.localExtra = (e.zip64 ? 20 : 0) + pad;
    pos = base + pad + e.data.byteLength;
  }
  const cdStart = pos;
  let cdSize = 0;
  for (const e of prepared) cdSize += 46 + e.name.byteLength + (e.zip64 ? 28 : 0);
  const need64 = prepared.length >= 0xffff || cdStart >= 0xffffffff || cdSize >= 0xffffffff;
  const total = cdStart + cdSize + (need64 ? 56 + 20 : 0) + 22;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  const DOS_DATE = (1980 - 1980) << 9 | 1 << 5 | 1; // 1980-01-01 00:00: reproducible output
  for (const e of prepared) {
    const p = e.offset;
    dv.setUint32(p, SIG_LOCAL, true);
    dv.setUint16(p + 4, e.zip64 ? 45 : 20, true);
    dv.setUint16(p + 6, 0x0800, true); // UTF-8 names
    dv.setUint16(p + 8, 0, true);
    dv.setUint16(p + 10, 0, true);
    dv.setUint16(p + 12, DOS_DATE, true);
    dv.setUint32(p + 14, e.crc, true);
    dv.setUint32(p + 18, e.zip64 ? 0xffffffff : e.data.byteLength, true);
    dv.setUint32(p + 22, e.zip64 ? 0xffffffff : e.data.byteLength, true);
    dv.setUint16(p + 26, e.name.byteLength, true);
    dv.setUint16(p + 28, e.localExtra, true);
    out.set(e.name, p + 30);
    let q = p + 30 + e.name.byteLength;
    if (e.zip64) {
      dv.setUint16(q, 0x0001, true);
      dv.setUint16(q + 2, 16, true);
      dv.setBigUint64(q + 4, BigInt(e.data.byteLength), true);
      dv.setBigUint64(q + 12, BigInt(e.data.byteLength), true);
      q += 20;
    }
    const pad = e.localExtra - (e.zip64 ? 20 : 0);
    if (pad) {
      dv.setUint16(q, 0x4646, true); // an unregistered id readers skip (PyTorch uses 'FF' too)
      dv.setUint16(q + 2, pad - 4, true);
      q += pad;
    }
    out.set(e.data, q);
  }
  let p = cdStart;
  for (const e of prepared) {
    dv.setUint32(p, SIG_CENTRAL, true);
    dv.setUint16(p + 4, e.zip64 ? 45 : 20, true);
    dv.setUint16(p + 6, e.zip64 ? 45 : 20, true);
    dv.setUint16(p + 8, 0x0800, true);
    dv.setUint16(p + 10, 0, true);
    dv.setUint16(p + 12, 0, true);
    dv.setUint16(p + 14, DOS_DATE, true);
    dv.setUint32(p + 16, e.crc, true);
    dv.setUint32(p + 20, e.zip64 ? 0xffffffff : e.data.byteLength, true);
    dv.setUint32(p + 24, e.zip64 ? 0xffffffff : e.data.byteLength, true);
    dv.setUint16(p + 28, e.name.byteLength, true);
    dv.setUint16(p + 30, e.zip64 ? 28 : 0, true);
    dv.setUint32(p + 42, e.zip64 ? 0xffffffff : e.offset, true);
    out.set(e.name, p + 46);
    let q = p + 46 + e.name.byteLength;
    if (e.zip64) {
      dv.setUint16(q, 0x0001, true);
      dv.setUint16(q + 2, 24, true);
      dv.setBigUint64(q + 4, BigInt(e.data.byteLength), true);
      dv.setBigUint64(q + 12, BigInt(e.data.byteLength), true);
      dv.setBigUint64(q + 20, BigInt(e.offset), true);
      q += 28;
    }
    p = q;
  }
  if (need64) {
    const rec = p;
    dv.setUint32(p, SIG_EOCD64, true);
    dv.setBigUint64(p + 4, 44n, true);
    dv.setUint16(p + 12, 45, true);
    dv.setUint16(p + 14, 45, true);
    dv.setBigUint64(p + 24, BigInt(prepared.length), true);
    dv.setBigUint64(p + 32, BigInt(prepared.length), true);
    dv.setBigUint64(p + 40, BigInt(cdSize), true);
    dv.setBigUint64(p + 48, BigInt(cdStart), true);
    p += 56;
    dv.setUint32(p, SIG_EOCD64_LOCATOR, true);
    dv.setBigUint64(p + 8, BigInt(rec), true);
    dv.setUint32(p + 16, 1, true);
    p += 20;
  }
  dv.setUint32(p, SIG_EOCD, true);
  dv.setUint16(p + 8, need64 ? 0xffff : prepared.length, true);
  dv.setUint16(p + 10, need64 ? 0xffff : prepared.length, true);
  dv.setUint32(p + 12, need64 ? 0xffffffff : cdSize, true);
  dv.setUint32(p + 16, need64 ? 0xffffffff : cdStart, true);
  return out;
}

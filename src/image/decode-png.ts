// PNG decoding (8- and 16-bit, gray / RGB / palette / with alpha, not interlaced) to RGB bytes,
// on fflate's zlib. Alpha is dropped without compositing (as OpenCV's IMREAD_COLOR and PIL's
// convert('RGB') do); 16-bit samples keep their high byte (as OpenCV does).
import { unzlibSync } from 'fflate';
import { FormatError, UnsupportedError } from '../ir/errors.js';
import { MAX_IMAGE_PIXELS, type RgbImage } from './rgb-image.js';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && SIGNATURE.every((v, i) => b[i] === v);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Samples per pixel of each PNG color type. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

export function decodePng(bytes: Uint8Array, file: string): RgbImage {
  if (!isPng(bytes)) throw new FormatError('not a PNG file (bad signature)', { file, offset: 0 });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let header: { width: number; height: number; depth: number; color: number } | undefined;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (!ended) {
    if (pos + 12 > bytes.length) throw new FormatError('truncated PNG (no IEND chunk)', { file, offset: pos });
    const length = view.getUint32(pos);
    const type = String.fromCharCode(...bytes.subarray(pos + 4, pos + 8));
    if (length > bytes.length - pos - 12) throw new FormatError(`PNG chunk ${type} of ${length} bytes runs past the end of the file`, { file, offset: pos });
    const data = bytes.subarray(pos + 8, pos + 8 + length);
    if (crc32(bytes.subarray(pos + 4, pos + 8 + length)) !== view.getUint32(pos + 8 + length)) throw new FormatError(`PNG chunk ${type}: CRC mismatch`, { file, offset: pos });
    if (!header && type !== 'IHDR') throw new FormatError('PNG does not start with an IHDR chunk', { file, offset: pos });
    switch (type) {
      case 'IHDR': {
        if (length !== 13) throw new FormatError('PNG IHDR chunk is not 13 bytes', { file, offset: pos });
        const dv = new DataView(data.buffer, data.byteOffset, 13);
        header = { width: dv.getUint32(0), height: dv.getUint32(4), depth: data[8]!, color: data[9]! };
        if (!DEPTHS[header.color]?.includes(header.depth)) throw new FormatError(`PNG color type ${header.color} with bit depth ${header.depth} is not valid`, { file, offset: pos });
        if (data[10] !== 0 || data[11] !== 0) throw new FormatError('PNG compression or filter method is not 0', { file, offset: pos });
        if (data[12] !== 0) throw new UnsupportedError('interlaced (Adam7) PNG', `${file}: save it without interlacing`);
        if (!header.width || !header.height || header.width * header.height > MAX_IMAGE_PIXELS) throw new FormatError(`PNG size ${header.width}x${header.height} is empty or too large`, { file, offset: pos });
        break;
      }
      case 'PLTE':
        if (length % 3 || length > 768) throw new FormatError('PNG palette length is not a multiple of 3 up to 256 entries', { file, offset: pos });
        palette = data;
        break;
      case 'IDAT':
        idat.push(data);
        break;
      case 'IEND':
        ended = true;
        break;
    }
    pos += 12 + length;
  }
  const { width, height, depth, color } = header!;
  if (!idat.length) throw new FormatError('PNG has no IDAT chunk', { file });
  if (color === 3 && !palette) throw new FormatError('palette PNG without a PLTE chunk', { file });
  const samples = CHANNELS[color]!;
  const bitsPerPixel = samples * depth;
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const compressed = new Uint8Array(idat.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of idat) compressed.set(c, (at += c.length) - c.length);
  // the output buffer is sized from the header: a stream that inflates to more is cut, not grown
  const expected = height * (stride + 1);
  let raw: Uint8Array;
  try {
    raw = unzlibSync(compressed, { out: new Uint8Array(expected) });
  } catch (e) {
    throw new FormatError(`PNG image data does not inflate: ${(e as Error).message}`, { file }, { cause: e });
  }
  if (raw.length < expected) throw new FormatError(`PNG image data holds ${raw.length} bytes, the header needs ${expected}`, { file });

  // undo the per-row filters in place (each row: filter byte, then stride bytes)
  const rows = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = rows.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? rows.subarray((y - 1) * stride, y * stride) : undefined;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? row[i - bpp]! : 0;
      const b = up ? up[i]! : 0;
      const c = up && i >= bpp ? up[i - bpp]! : 0;
      let p: number;
      switch (filter) {
        case 0: p = 0; break;
        case 1: p = a; break;
        case 2: p = b; break;
        case 3: p = (a + b) >> 1; break;
        case 4: {
          const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
          p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          throw new FormatError(`PNG row ${y} has filter type ${filter}`, { file });
      }
      row[i] = (src[i]! + p) & 0xff;
    }
  }

  const rgb = new Uint8Array(width * height * 3);
  const maxGray = (1 << Math.min(depth, 8)) - 1;
  for (let y = 0; y < height; y++) {
    const row = rows.subarray(y * stride, (y + 1) * stride);
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (depth < 8) {
        const bit = x * depth;
        const v = (row[bit >> 3]! >> (8 - depth - (bit & 7))) & maxGray;
        if (color === 3) {
          if (v * 3 + 2 >= palette!.length) throw new FormatError(`PNG palette index ${v} past the palette`, { file });
          rgb.set(palette!.subarray(v * 3, v * 3 + 3), o);
        } else rgb.fill(Math.round((v * 255) / maxGray), o, o + 3);
        continue;
      }
      // 8 or 16 bits per sample: the sample's (high) byte
      const bytesPer = depth >> 3;
      const s = (k: number) => row[(x * samples + k) * bytesPer]!;
      if (color === 3) {
        const v = s(0);
        if (v * 3 + 2 >= palette!.length) throw new FormatError(`PNG palette index ${v} past the palette`, { file });
        rgb.set(palette!.subarray(v * 3, v * 3 + 3), o);
      } else if (color === 0 || color === 4) rgb.fill(s(0), o, o + 3);
      else (rgb[o] = s(0)), (rgb[o + 1] = s(1)), (rgb[o + 2] = s(2));
    }
  }
  return { width, height, data: rgb };
}

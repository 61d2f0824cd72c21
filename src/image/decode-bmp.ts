// BMP decoding to RGB bytes: the Windows headers (BITMAPCOREHEADER, BITMAPINFOHEADER and its
// V2-V5 extensions), 1/4/8-bit palettes, 16/24/32-bit pixels (BI_RGB or BI_BITFIELDS masks),
// bottom-up or top-down rows. RLE-compressed BMPs are refused by name.
import { FormatError, UnsupportedError } from '../ir/errors.js';
import { MAX_IMAGE_PIXELS, type RgbImage } from './rgb-image.js';

export function isBmp(b: Uint8Array): boolean {
  return b.length >= 26 && b[0] === 0x42 && b[1] === 0x4d;
}

/** A mask's shift and width, to scale a masked field to 0..255. */
function field(mask: number): { shift: number; max: number } {
  if (!mask) return { shift: 0, max: 0 };
  let shift = 0;
  while (!((mask >>> shift) & 1)) shift++;
  return { shift, max: mask >>> shift };
}

export function decodeBmp(bytes: Uint8Array, file: string): RgbImage {
  if (!isBmp(bytes)) throw new FormatError('not a BMP file (no BM signature)', { file, offset: 0 });
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = v.getUint32(10, true);
  const headerSize = v.getUint32(14, true);
  const core = headerSize === 12;
  if (!core && headerSize < 40) throw new FormatError(`BMP header of ${headerSize} bytes is not a known DIB header`, { file, offset: 14 });
  if (14 + headerSize > bytes.length) throw new FormatError('truncated BMP header', { file, offset: 14 });
  const width = core ? v.getUint16(18, true) : v.getInt32(18, true);
  const rawHeight = core ? v.getInt16(20, true) : v.getInt32(22, true);
  const bits = core ? v.getUint16(24, true) : v.getUint16(28, true);
  const compression = core ? 0 : v.getUint32(30, true);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  if (width <= 0 || !height || width * height > MAX_IMAGE_PIXELS) throw new FormatError(`BMP size ${width}x${rawHeight} is empty or too large`, { file, offset: 18 });
  if (compression === 1 || compression === 2) throw new UnsupportedError('RLE-compressed BMP', `${file}: save it uncompressed`);
  if (compression !== 0 && compression !== 3 && compression !== 6) throw new UnsupportedError(`BMP compression ${compression}`, `${file}: save it uncompressed`);
  if (![1, 4, 8, 16, 24, 32].includes(bits)) throw new FormatError(`BMP with ${bits} bits per pixel`, { file, offset: 28 });

  // palette: after the header (and the masks of a 40-byte header with BI_BITFIELDS)
  let palette: Uint8Array | undefined;
  let masks: [number, number, number] | undefined;
  if (bits <= 8) {
    const entry = core ? 3 : 4;
    const used = core ? 0 : v.getUint32(46, true);
    const count = used || 1 << bits;
    const start = 14 + headerSize;
    if (count > 1 << bits || start + count * entry > bytes.length) throw new FormatError(`BMP palette of ${count} entries does not fit`, { file, offset: start });
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < count; i++) {
      // stored B, G, R(, reserved)
      palette[i * 3] = bytes[start + i * entry + 2]!;
      palette[i * 3 + 1] = bytes[start + i * entry + 1]!;
      palette[i * 3 + 2] = bytes[start + i * entry]!;
    }
  } else if (compression === 3 || compression === 6) {
    const at = headerSize >= 52 ? 54 : 14 + headerSize;
    if (at + 12 > bytes.length) throw new FormatError('truncated BMP bit masks', { file, offset: at });
    masks = [v.getUint32(at, true), v.getUint32(at + 4, true), v.getUint32(at + 8, true)];
  } else if (bits === 16) masks = [0x7c00, 0x03e0, 0x001f];
  else masks = [0xff0000, 0x00ff00, 0x0000ff];

  const stride = Math.floor((bits * width + 31) / 32) * 4;
  if (dataOffset + stride * (height - 1) + Math.ceil((bits * width) / 8) > bytes.length) throw new FormatError(`BMP pixel data (${stride * height} bytes at offset ${dataOffset}) runs past the end of the file`, { file, offset: dataOffset });
  const fields = masks?.map(field);
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (palette) {
        const bit = x * bits;
        const i = (bytes[row + (bit >> 3)]! >> (8 - bits - (bit & 7))) & ((1 << bits) - 1);
        rgb[o] = palette[i * 3]!;
        rgb[o + 1] = palette[i * 3 + 1]!;
        rgb[o + 2] = palette[i * 3 + 2]!;
        continue;
      }
      if (bits === 24 && compression === 0) {
        rgb[o] = bytes[row + x * 3 + 2]!;
        rgb[o + 1] = bytes[row + x * 3 + 1]!;
        rgb[o + 2] = bytes[row + x * 3]!;
        continue;
      }
      const px = bits === 16 ? v.getUint16(row + x * 2, true) : bits === 32 ? v.getUint32(row + x * 4, true) : bytes[row + x * 3]! | (bytes[row + x * 3 + 1]! << 8) | (bytes[row + x * 3 + 2]! << 16);
      for (let k = 0; k < 3; k++) {
        const f = fields![k]!;
        rgb[o + k] = f.max ? Math.round((((px >>> f.shift) & f.max) * 255) / f.max) : 0;
      }
    }
  }
  return { width, height, data: rgb };
}

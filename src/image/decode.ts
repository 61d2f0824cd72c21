// One entry point for the image formats calibration accepts: detected from the bytes (PNG, JPEG,
// BMP), decoded to 8-bit RGB. JPEG (baseline and progressive) is decoded by jpeg-js.
import jpeg from 'jpeg-js';
import { FormatError, UnsupportedError } from '../ir/errors.js';
import { decodeBmp, isBmp } from './decode-bmp.js';
import { decodePng, isPng } from './decode-png.js';
import { MAX_IMAGE_PIXELS, type RgbImage } from './rgb-image.js';

export type { RgbImage } from './rgb-image.js';

const isJpeg = (b: Uint8Array): boolean => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

/** File name extensions taken as images when a folder is listed. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.bmp'];

export function decodeImage(bytes: Uint8Array, file: string): RgbImage {
  if (isPng(bytes)) return decodePng(bytes, file);
  if (isBmp(bytes)) return decodeBmp(bytes, file);
  if (isJpeg(bytes)) {
    let rgba: { width: number; height: number; data: Uint8Array };
    try {
      rgba = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
    } catch (e) {
      throw new FormatError(`JPEG does not decode: ${e instanceof Error ? e.message : String(e)}`, { file }, { cause: e });
    }
    const n = rgba.width * rgba.height;
    if (!n) throw new FormatError('JPEG has no pixels', { file });
    const rgb = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      rgb[i * 3] = rgba.data[i * 4]!;
      rgb[i * 3 + 1] = rgba.data[i * 4 + 1]!;
      rgb[i * 3 + 2] = rgba.data[i * 4 + 2]!;
    }
    return { width: rgba.width, height: rgba.height, data: rgb };
  }
  const gif = bytes.length >= 3 && String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!) === 'GIF';
  if (gif) throw new UnsupportedError('GIF images', `${file}: convert it to PNG`);
  throw new FormatError('not a PNG, JPEG or BMP image', { file, offset: 0 });
}

import { DTYPES, viewAs } from '../../ir/dtypes.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';
import { NPY_MAGIC, NPY_TO_DTYPE } from './descr.js';

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

/** Parse the Python-literal header dict of a .npy file (we never evaluate it). */
function parseHeader(text: string, file: string): NpyHeader {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new FormatError(`malformed .npy header ${JSON.stringify(text.slice(0, 120))}`, { file, offset: 10 });
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const d = /^\d+L?$/.test(s) ? Number.parseInt(s, 10) : NaN;
      // beyond 2^53 a dimension is no longer exact (and no file holds that much anyway)
      if (!Number.isSafeInteger(d)) throw new FormatError(`bad dimension '${s}' in .npy shape`, { file, offset: 10 });
      return d;
    });
  return { descr, fortranOrder: fortran === 'True', shape };
}

/** Read a NumPy .npy file (format versions 1-3) into a Tensor; a view of `bytes` when aligned. */
export function readNpy(bytes: Uint8Array, fileName = '<npy>'): Tensor {
  const file = fileName;
  if (bytes.byteLength < 10 || !NPY_MAGIC.every((b, i) => bytes[i] === b)) throw new FormatError('not a .npy file (bad magic)', { file, offset: 0 });
  const major = bytes[6]!;
  if (major < 1 || major > 3) throw new FormatError(`unsupported .npy format version ${major}.${bytes[7]}`, { file, offset: 6 });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.byteLength < 8 + lenBytes) throw new FormatError('truncated .npy header', { file, offset: 8 });
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const dataStart = 8 + lenBytes + headerLen;
  if (dataStart > bytes.byteLength) throw new FormatError(`header length ${headerLen} runs past the end of the file`, { file, offset: 8 });
  const header = parseHeader(new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(8 + lenBytes, dataStart)), file);

  const order = header.descr[0]!;
  const code = /^[<>|=]/.test(header.descr) ? header.descr.slice(1) : header.descr;
  // own keys only: a descr of 'constructor' must not find Object.prototype's
  const dtype = Object.hasOwn(NPY_TO_DTYPE, code) ? NPY_TO_DTYPE[code] : undefined;
  if (!dtype) throw new UnsupportedError(`.npy dtype '${header.descr}'`, `in ${file}; supported: float16/32/64, int8-64, uint8-64, bool`);
  const n = shapeSize(header.shape);
  const size = DTYPES[dtype].bytes;
  const need = n * size;
  if (bytes.byteLength - dataStart < need) {
    throw new FormatError(`data holds ${bytes.byteLength - dataStart} bytes but shape (${header.shape.join(', ')}) of ${header.descr} needs ${need}`, { file, offset: dataStart });
  }
  let raw = bytes.subarray(dataStart, dataStart + need);
  if (order === '>' && size > 1) raw = byteswap(raw, size);
  let t: Tensor = new Tensor(dtype, header.shape, viewAs(dtype, raw, n));
  if (header.fortranOrder && header.shape.length > 1) t = fortranToC(t);
  return t;
}

function byteswap(src: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += size) for (let k = 0; k < size; k++) out[i + k] = src[i + size - 1 - k]!;
  return out;
}

/** Fortran order stores the reversed shape in C order; transpose it back. */
function fortranToC(t: Tensor): Tensor {
  const shape = t.shape;
  const rank = shape.length;
  const src = t.data as unknown as ArrayLike<number> & { constructor: new (n: number) => { [i: number]: number } };
  const out = new src.constructor(t.size);
  const rev = [...shape].reverse();
  const revStrides = stridesOf(rev);
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < t.size; i++) {
    // idx is the C index in `shape`; the same element sits at reversed index in the stored (reversed) array
    let off = 0;
    for (let d = 0; d < rank; d++) off += idx[d]! * revStrides[rank - 1 - d]!;
    out[i] = src[off]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return new Tensor(t.dtype, shape, out as never);
}

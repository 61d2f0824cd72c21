import { DTYPES } from '../../ir/dtypes.js';
import { UnsupportedError } from '../../ir/errors.js';
import type { Tensor } from '../../ir/tensor.js';
import { DTYPE_TO_SAFETENSORS } from './dtypes.js';

/**
 * Serialize named tensors as safetensors. Like the reference writer, tensors are laid out by
 * element size (largest first, then in the given order) and the header is padded with spaces to
 * a multiple of 8, so every tensor starts aligned to its element size.
 */
export function writeSafetensors(tensors: ReadonlyMap<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const items = [...tensors].map(([name, t], i) => {
    const dtype = DTYPE_TO_SAFETENSORS[t.dtype];
    if (!dtype) throw new UnsupportedError(`writing ${t.dtype} tensors to safetensors`, `tensor '${name}'`);
    return { name, t, dtype, i, es: DTYPES[t.dtype].bytes };
  });
  items.sort((a, b) => b.es - a.es || a.i - b.i);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const it of items) {
    const n = it.t.byteLength;
    header[it.name] = { dtype: it.dtype, shape: [...it.t.shape], data_offsets: [off, off + n] };
    off += n;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hb = enc.encode(json);
  const padded = Math.ceil(hb.byteLength / 8) * 8;
  if (padded !== hb.byteLength) {
    json += ' '.repeat(padded - hb.byteLength);
    hb = enc.encode(json);
  }
  const out = new Uint8Array(8 + hb.byteLength + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.byteLength), true);
  out.set(hb, 8);
  let p = 8 + hb.byteLength;
  for (const it of items) {
    out.set(it.t.bytes(), p);
    p += it.t.byteLength;
  }
  return out;
}

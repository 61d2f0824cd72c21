import { UnsupportedError } from '../../ir/errors.js';
import type { Tensor } from '../../ir/tensor.js';
import { DTYPE_TO_NPY, NPY_MAGIC } from './descr.js';

/** Serialize a tensor as a NumPy .npy file (format 1.0, or 2.0 for huge headers), C order. */
export function writeNpy(t: Tensor): Uint8Array {
  const descr = DTYPE_TO_NPY[t.dtype];
  if (!descr) throw new UnsupportedError(`writing ${t.dtype} tensors to .npy`, t.dtype === 'bfloat16' ? 'NumPy has no bfloat16; cast to float32 first' : undefined);
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // NumPy pads the header with spaces so the data starts on a 64-byte boundary, ending in '\n'.
  let major = 1;
  let pre = 10;
  let total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  if (total - pre > 0xffff) {
    major = 2;
    pre = 12;
    total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  }
  dict = dict.padEnd(total - pre - 1, ' ') + '\n';
  const data = t.bytes();
  const out = new Uint8Array(total + data.byteLength);
  out.set(NPY_MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, dict.length, true);
  else dv.setUint32(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[pre + i] = dict.charCodeAt(i);
  out.set(data, total);
  return out;
}

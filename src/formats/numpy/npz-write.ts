import { Tensor } from '../../ir/tensor.js';
import { writeZip } from '../../io/zip.js';
import { writeNpy } from './npy-write.js';

/**
 * NumPy's .npz: a stored zip with one `<name>.npy` per tensor (what np.savez writes).
 * NumPy has no bfloat16, so bfloat16 tensors are widened to float32, which is exact.
 */
export function writeNpz(tensors: ReadonlyMap<string, Tensor>): Uint8Array {
  return writeZip(
    [...tensors].map(([name, t]) => ({
      name: `${name}.npy`,
      data: writeNpy(t.dtype === 'bfloat16' ? new Tensor('float32', t.shape, t.toFloat32()) : t),
    })),
  );
}

// Keras .h5: an HDF5 file. The HDF5 signature sits at offset 0, or at 512, 1024, 2048... when
// the file has a user block; the head covers the first of those.
const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

export function detectHdf5(head: Uint8Array): boolean {
  for (let at = 0; at + 8 <= head.length; at = at === 0 ? 512 : at * 2) {
    if (HDF5_SIGNATURE.every((b, i) => head[at + i] === b)) return true;
  }
  return false;
}

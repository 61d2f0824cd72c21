import { firstZipEntryName } from '../../io/zip.js';

/** A zip whose first entry is a .npy array. */
export function detectNpz(head: Uint8Array, fileName = ''): boolean {
  const first = firstZipEntryName(head);
  if (first === undefined) return false;
  return first.endsWith('.npy') || (first === '' && fileName.toLowerCase().endsWith('.npz'));
}

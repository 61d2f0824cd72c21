import { firstZipEntryName, isZip } from '../../io/zip.js';

/** torch.save zip archives start with `<archive>/data.pkl` (written first). */
export function detectPytorchZip(head: Uint8Array, fileName = ''): boolean {
  if (!isZip(head)) return false;
  const first = firstZipEntryName(head);
  if (first !== undefined && /(^|\/)data\.pkl$/.test(first)) return true;
  return first !== undefined && !first.endsWith('.npy') && /\.(pth?|ckpt|bin|tar)$/i.test(fileName);
}

// pickle protocol 2, LONG1 of 10 bytes: the little-endian magic 0x1950a86a20f9469cfc6c
const LEGACY_HEAD = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

export function detectPytorchLegacy(head: Uint8Array): boolean {
  if (head.byteLength < LEGACY_HEAD.length) return false;
  return LEGACY_HEAD.every((b, i) => head[i] === b);
}

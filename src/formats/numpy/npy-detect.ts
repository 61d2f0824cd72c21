import { NPY_MAGIC } from './descr.js';

export function detectNpy(head: Uint8Array): boolean {
  return head.byteLength >= 6 && NPY_MAGIC.every((b, i) => head[i] === b);
}

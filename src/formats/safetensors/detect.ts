/** 8-byte little-endian header length, then a JSON object. */
export function detectSafetensors(head: Uint8Array): boolean {
  if (head.byteLength < 10) return false;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n < 2n || n > 100_000_000n) return false;
  return head[8] === 0x7b; // '{'
}

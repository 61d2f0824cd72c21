// TFLite: a FlatBuffer whose file identifier (bytes 4..8) is "TFL3".
export function detectTflite(head: Uint8Array): boolean {
  return head.length >= 8 && head[4] === 0x54 && head[5] === 0x46 && head[6] === 0x4c && head[7] === 0x33;
}

// TF.js weight shards, for layers and graph models alike: every weight's bytes one after another,
// cut into group1-shardKofN.bin files of at most `shardSize` bytes (a weight may span two shards,
// as in TF.js); tensorflowjs_converter's default is 4 MiB.

export const DEFAULT_SHARD_SIZE = 4 * 1024 * 1024;

/** The shards of `parts` set into `sidecars` by path; their paths (none for no parts). */
export function writeShards(parts: readonly Uint8Array[], shardSize: number, sidecars: Map<string, Uint8Array> | undefined): string[] {
  if (!parts.length) return [];
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const count = Math.max(1, Math.ceil(total / shardSize));
  const shards = Array.from({ length: count }, (_, i) => new Uint8Array(Math.min(shardSize, total - i * shardSize)));
  let at = 0;
  for (const p of parts) {
    for (let off = 0; off < p.byteLength; ) {
      const n = Math.min(p.byteLength - off, shardSize - (at % shardSize));
      shards[Math.floor(at / shardSize)]!.set(p.subarray(off, off + n), at % shardSize);
      off += n;
      at += n;
    }
  }
  const paths = shards.map((_, i) => `group1-shard${i + 1}of${count}.bin`);
  paths.forEach((p, i) => sidecars?.set(p, shards[i]!));
  return paths;
}

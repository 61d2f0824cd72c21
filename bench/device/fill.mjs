// Refill a skeleton's weights.bin with deterministic uniform(-a, a) float32 values, a = sqrt(1 / fan-in) (a variance of 1 / (3 fan-in): layers shrink their input a little, so the random net stays well-conditioned).
import { readFileSync, writeFileSync } from 'node:fs';
const dir = process.argv[2];
const meta = JSON.parse(readFileSync(`${dir}/weights.json`, 'utf8'));
const buf = new ArrayBuffer(meta.size);
let s = 12345;
const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
for (const t of meta.tensors) {
  const f = new Float32Array(buf, t.offset, t.length / 4);
  const fanIn = t.dims.length > 1 ? t.dims.slice(1).reduce((a, b) => a * b, 1) : 1;
  const a = Math.sqrt(1 / fanIn);
  // 1-D tensors (biases, BatchNorm's scale / bias / mean / variance) get 1: BatchNorm is then the identity
  if (t.dims.length === 1) f.fill(1);
  else for (let i = 0; i < f.length; i++) f[i] = (rnd() * 2 - 1) * a;
}
writeFileSync(`${dir}/weights.bin`, new Uint8Array(buf));
console.log(dir, meta.size);

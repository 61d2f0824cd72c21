// node --import tsx bench/permute-ab.mjs a.wasm b.wasm ...: A/B timing of permutation kernel builds,
// runs interleaved (A B A B ...) on the bench:kernels shapes so that load from other processes hits
// all builds alike. Prints each build's median GB/s (bytes read + written). Build a variant with
// `npm run build:wasm && cp build/kernels.wasm /tmp/variant.wasm`; REPS=n (default 9),
// ONLY=8192x8192 (one shape) and EXTRA=4096x4096,2048x8192 (more 2-D transposes) in the environment. Data sits in WASM memory, like "ours" in bench:kernels.
import { readFileSync } from 'node:fs';
import { planPermute } from '../src/wasm/permute.js';

// A build may carry tuning arguments for its exported setPermuteTuning: file.wasm@1,16,4,1024,1.
const files = process.argv.slice(2).filter((f) => /\.wasm(@[-\d,]+)?$/.test(f));
const reps = Number(process.env.REPS ?? 9);
const only = process.env.ONLY;
const PERMS = [
  [[1, 256, 256, 256], [0, 2, 3, 1]],
  [[32, 64, 112, 112], [0, 2, 3, 1]],
  [[512, 512, 3, 3], [2, 3, 1, 0]],
  [[8192, 8192], [1, 0]],
  // EXTRA=4096x4096,2048x8192 adds 2-D transposes of those shapes
  ...(process.env.EXTRA ? process.env.EXTRA.split(',').map((s) => [s.split('x').map(Number), [1, 0]]) : []),
];
const inst = files.map((f) => {
  const [path, tune] = f.split('@');
  const i = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(path)), { env: { abort() { throw new Error('abort'); }, seed: () => 42 } });
  if (tune) i.exports.setPermuteTuning(...tune.split(',').map(Number));
  return i.exports;
});
for (const [shape, perm] of PERMS) {
  if (only && shape.join('x') !== only) continue;
  const n = shape.reduce((a, b) => a * b, 1);
  const plan = planPermute(shape, perm, 4);
  const runs = inst.map((x) => {
    const base = (x.heapBase() + 4095) & ~4095;
    const need = base + 2 * n * 4 + 65536 * 2;
    const mem = x.memory;
    if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
    const src = base;
    const dst = base + n * 4;
    const meta = dst + n * 4;
    const sv = new Float32Array(mem.buffer, src, n); // written in place: untouched pages would all read the zero page
    for (let i = 0; i < n; i++) sv[i] = i;
    new Float32Array(mem.buffer, dst, n).fill(1);
    return () => {
      const m = new Int32Array(mem.buffer, meta, plan.axes.length * 4);
      plan.axes.forEach((a, i) => {
        m[i * 4] = a.len;
        m[i * 4 + 1] = a.stride;
      });
      x.permute(src, dst, plan.es, plan.axes.length, meta);
    };
  });
  const ts = runs.map(() => []);
  runs.forEach((f) => f());
  for (let r = 0; r < reps; r++) {
    runs.forEach((f, j) => {
      const t = performance.now();
      f();
      ts[j].push(performance.now() - t);
    });
  }
  const line = ts.map((t, j) => {
    t.sort((a, b) => a - b);
    const med = t[Math.floor(t.length / 2)] / 1000;
    return `${files[j].split('/').pop()} ${((2 * n * 4) / med / 1e9).toFixed(2)}`;
  });
  console.log(`${shape.join('x').padEnd(14)} ${line.join('  ')}`);
}

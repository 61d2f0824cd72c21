// npm run bench:kernels [-- --json] [-- --quick]
// GB/s of the tensor kernels against the memory-bandwidth ceiling of this runtime (TypedArray.set),
// a naive JS nested loop, and NumPy (when /usr/bin/python3 has it), all in one run.
//  - permutations: bytes read + written per second;
//  - quantization and float16: bytes of input per second.
// "ours" runs on data already in WASM memory (as inside a conversion); "ours_e2e" takes a JS array and
// writes into a JS array the caller passes as `out` (the wrapper streams the data through WASM
// memory); "ours_e2e_alloc" returns a freshly allocated result array instead, which adds the OS's
// cost of first touching new pages (on this VM that alone is ~1 GB/s for 128 MiB).
// Timings are medians of several runs, single-threaded. This is a benchmark, not a test.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { kernels } from '../src/wasm/loader.js';
import { permuteArray } from '../src/wasm/permute.js';
import { quantizePerAxis, quantizePerTensor } from '../src/wasm/quantize.js';
import { float16ToFloat32, float32ToFloat16 } from '../src/wasm/half.js';
import { Tensor } from '../src/ir/tensor.js';

const JSON_OUT = process.argv.includes('--json');
const QUICK = process.argv.includes('--quick');
const PY = '/usr/bin/python3';
const MiB = 1 << 20;

const log = (...a) => {
  if (!JSON_OUT) console.log(...a);
};

function median(f, reps) {
  f(); // warm up
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    f();
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)] / 1000;
}

function randomFloats(n, seed = 1) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 4294967296 - 0.5) * 8;
  }
  return a;
}

const gbps = (bytes, sec) => bytes / sec / 1e9;

// Naive permutation: four nested loops over the output, strided reads (rank <= 4, padded with 1s).
function naivePermute(src, dst, shape, perm) {
  const s4 = [1, 1, 1, 1].slice(0, 4 - shape.length).concat(shape);
  const p4 = [0, 1, 2, 3].slice(0, 4 - perm.length).concat(perm.map((p) => p + 4 - perm.length));
  const st = [s4[1] * s4[2] * s4[3], s4[2] * s4[3], s4[3], 1];
  const [A, B, C, D] = p4.map((p) => s4[p]);
  const [sa, sb, sc, sd] = p4.map((p) => st[p]);
  let o = 0;
  for (let a = 0; a < A; a++)
    for (let b = 0; b < B; b++)
      for (let c = 0; c < C; c++) {
        let i = a * sa + b * sb + c * sc;
        for (let d = 0; d < D; d++, i += sd) dst[o++] = src[i];
      }
}

const PERMS = [
  { bench: 'nchw_to_nhwc', shape: [1, 256, 256, 256], perm: [0, 2, 3, 1] },
  { bench: 'nchw_to_nhwc', shape: [32, 64, 112, 112], perm: [0, 2, 3, 1] },
  { bench: 'oihw_to_hwio', shape: [512, 512, 3, 3], perm: [2, 3, 1, 0] },
  { bench: 'transpose_2d', shape: [8192, 8192], perm: [1, 0] },
];
const QUANT = [
  { bench: 'quantize_int8_per_channel', shape: [512, 4608] },
  { bench: 'quantize_uint8_per_tensor', shape: [16 * MiB] }, // 64 MiB of float32
  { bench: 'float32_to_float16', shape: [16 * MiB] }, // 64 MiB of float32
  { bench: 'float16_to_float32', shape: [32 * MiB] }, // 64 MiB of float16
];

function numpyPeer() {
  if (!existsSync(PY)) return null;
  const script = `
import json, sys, time
try:
    import numpy as np
except ImportError:
    print('null'); sys.exit(0)
def med(f, reps):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    ts.sort(); return ts[len(ts) // 2]
out = {}
reps = ${QUICK ? 1 : 5}
for key, shape, perm in ${JSON.stringify(PERMS.map((p) => [`${p.bench}:${p.shape.join('x')}`, p.shape, p.perm]))}:
    x = np.random.default_rng(1).standard_normal(shape, dtype=np.float32)
    t = med(lambda: np.ascontiguousarray(x.transpose(perm)), reps)
    out[key] = 2 * x.nbytes / t / 1e9
x = np.random.default_rng(2).standard_normal((512, 4608), dtype=np.float32)
s = (np.abs(x).max(axis=1) / 127).astype(np.float32); z = np.zeros(512, np.int32)
t = med(lambda: np.clip(np.round(x / s[:, None]) + z[:, None], -128, 127).astype(np.int8), reps)
out['quantize_int8_per_channel:512x4608'] = x.nbytes / t / 1e9
x = np.random.default_rng(3).standard_normal(${16 * MiB}, dtype=np.float32)
t = med(lambda: np.clip(np.round(x / np.float32(0.03)) + 128, 0, 255).astype(np.uint8), reps)
out['quantize_uint8_per_tensor:${16 * MiB}'] = x.nbytes / t / 1e9
t = med(lambda: x.astype(np.float16), reps)
out['float32_to_float16:${16 * MiB}'] = x.nbytes / t / 1e9
h = np.random.default_rng(4).standard_normal(${32 * MiB}, dtype=np.float32).astype(np.float16)
t = med(lambda: h.astype(np.float32), reps)
out['float16_to_float32:${32 * MiB}'] = h.nbytes / t / 1e9
out['_version'] = np.__version__
print(json.dumps(out))
`;
  const r = spawnSync(PY, ['-c', script], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) return null;
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return null;
  }
}

const results = [];
function report(row) {
  results.push(row);
  if (JSON_OUT) console.log(JSON.stringify(row));
  else {
    const f = (v) => (v === null || v === undefined ? '   -  ' : v.toFixed(2).padStart(6));
    log(
      `${row.bench.padEnd(26)} ${row.shape.padEnd(16)} ours ${f(row.ours_gbps)}  e2e ${f(row.ours_e2e_gbps)}  e2e+alloc ${f(row.ours_e2e_alloc_gbps)}  copy ${f(row.copy_gbps)}  naive ${f(row.naive_gbps)}  numpy ${f(row.numpy_gbps)}  (${((100 * row.ours_gbps) / row.copy_gbps).toFixed(0)}% of copy${row.numpy_gbps ? `, ${(row.ours_gbps / row.numpy_gbps).toFixed(1)}x numpy` : ''})`,
    );
  }
}

log(`nnport kernels bench: ${os.cpus()[0]?.model ?? '?'} x${os.cpus().length}, Node ${process.version}, ${QUICK ? 'quick' : 'full'}`);
const k = kernels();
const reps = QUICK ? 1 : 5;

// NumPy first, in its own process, so the two never compete for the two cores.
const np = numpyPeer();
log(np ? `NumPy ${np._version} (single-threaded) as peer` : 'NumPy not found: numpy_gbps = null');

for (const { bench, shape, perm } of PERMS) {
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = 2 * n * 4;
  const js = randomFloats(n);
  const jd = new Float32Array(n).fill(1);
  const copy = median(() => jd.set(js), reps);
  const m = k.arena.mark();
  const sp = k.arena.alloc(n * 4);
  const dp = k.arena.alloc(n * 4);
  k.arena.f32(sp, n).set(js);
  k.arena.f32(dp, n).fill(1);
  const ours = median(() => permuteArray(k.arena.f32(sp, n), shape, perm, { out: k.arena.f32(dp, n) }), reps);
  k.arena.release(m);
  const e2e = median(() => permuteArray(js, shape, perm, { out: jd }), reps);
  const e2eAlloc = median(() => permuteArray(js, shape, perm), reps);
  const naive = median(() => naivePermute(js, jd, shape, perm), QUICK ? 1 : 2);
  const key = `${bench}:${shape.join('x')}`;
  report({
    bench,
    shape: shape.join('x'),
    ours_gbps: gbps(bytes, ours),
    copy_gbps: gbps(bytes, copy),
    numpy_gbps: np?.[key] ?? null,
    ours_e2e_gbps: gbps(bytes, e2e),
    ours_e2e_alloc_gbps: gbps(bytes, e2eAlloc),
    naive_gbps: gbps(bytes, naive),
  });
}

for (const { bench, shape } of QUANT) {
  const n = shape.reduce((a, b) => a * b, 1);
  const half = bench === 'float16_to_float32';
  const inBytes = n * (half ? 2 : 4);
  const outBytes = n * (bench.startsWith('quantize') ? 1 : half ? 4 : 2);
  const x = randomFloats(n, 7);
  const xin = half ? float32ToFloat16(x) : x;
  // copy ceiling in the same convention: input bytes per second of moving the input once
  const cs = new Uint8Array(inBytes).fill(3);
  const cd = new Uint8Array(inBytes).fill(1);
  const copy = median(() => cd.set(cs), reps);
  const m = k.arena.mark();
  const sp = k.arena.alloc(inBytes);
  const dp = k.arena.alloc(outBytes);
  k.arena.u8(sp, inBytes).set(new Uint8Array(xin.buffer, xin.byteOffset, inBytes));
  k.arena.u8(dp, outBytes).fill(1);
  let run;
  let runE2e;
  let runE2eAlloc;
  const jout = new (bench.startsWith('quantize') ? (bench === 'quantize_int8_per_channel' ? Int8Array : Uint8Array) : half ? Float32Array : Uint16Array)(n).fill(1);
  if (bench === 'quantize_int8_per_channel') {
    const scales = new Float32Array(shape[0]).fill(8 / 127);
    const zps = new Int32Array(shape[0]);
    const opts = { dtype: 'int8', rounding: 'half-even' };
    run = () => quantizePerAxis(new Tensor('float32', shape, k.arena.f32(sp, n)), 0, scales, zps, { ...opts, out: k.arena.i8(dp, n) });
    runE2e = () => quantizePerAxis(new Tensor('float32', shape, x), 0, scales, zps, { ...opts, out: jout });
    runE2eAlloc = () => quantizePerAxis(new Tensor('float32', shape, x), 0, scales, zps, opts);
  } else if (bench === 'quantize_uint8_per_tensor') {
    const opts = { dtype: 'uint8', rounding: 'half-even' };
    run = () => quantizePerTensor(k.arena.f32(sp, n), 0.03, 128, { ...opts, out: k.arena.u8(dp, n) });
    runE2e = () => quantizePerTensor(x, 0.03, 128, { ...opts, out: jout });
    runE2eAlloc = () => quantizePerTensor(x, 0.03, 128, opts);
  } else if (bench === 'float32_to_float16') {
    run = () => float32ToFloat16(k.arena.f32(sp, n), { out: k.arena.u16(dp, n) });
    runE2e = () => float32ToFloat16(x, { out: jout });
    runE2eAlloc = () => float32ToFloat16(x);
  } else {
    run = () => float16ToFloat32(k.arena.u16(sp, n), { out: k.arena.f32(dp, n) });
    runE2e = () => float16ToFloat32(xin, { out: jout });
    runE2eAlloc = () => float16ToFloat32(xin);
  }
  const ours = median(run, reps);
  k.arena.release(m);
  const e2e = median(runE2e, reps);
  const e2eAlloc = median(runE2eAlloc, reps);
  report({
    bench,
    shape: shape.join('x'),
    ours_gbps: gbps(inBytes, ours),
    copy_gbps: gbps(inBytes, copy),
    numpy_gbps: np?.[`${bench}:${shape.join('x')}`] ?? null,
    ours_e2e_gbps: gbps(inBytes, e2e),
    ours_e2e_alloc_gbps: gbps(inBytes, e2eAlloc),
    naive_gbps: null,
  });
}

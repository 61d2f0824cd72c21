// A real GraphDef over protobuf's 2 GiB limit, for the lazy reader (not run in CI: it writes
// and reads 2.25 GiB). Streams y = x + c0 + c1 + c2 with three 768 MiB float32 Const tensors
// (element i of c_k is ((i * 7 + k) % 1009) / 1009) into a temp folder, then reads it back
// (1) by positioned reads (readGraphDefFile: the file is never held whole) and (2) the way the
// CLI does (loadModelFiles -> readGraphDefPath: positioned reads too, above 2 GiB), checks every
// element of every tensor, and deletes the file.
//
// usage: node --import tsx scripts/large-graphdef.mjs [--elements N]
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensorflow } from '../src/formats/generated/tensorflow.js';
import { readGraphDefFile } from '../src/formats/tensorflow/read.js';
import { loadModelFiles } from '../src/index.js';

const arg = process.argv.indexOf('--elements');
const N = arg > 0 ? Number(process.argv[arg + 1]) : 201326592; // 768 MiB of float32
const CONSTS = 3;

function varint(v) {
  const out = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}
const tag = (field, wire) => varint(field * 8 + wire);
const cat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const enc = (type, value) => tensorflow[type].encode(value).finish();
const value = (k, i) => ((i * 7 + k) % 1009) / 1009;

const dir = mkdtempSync(join(tmpdir(), 'nnport-2gb-'));
const file = join(dir, 'large.pb');
const fd = openSync(file, 'w');
const put = (b) => writeSync(fd, b);
const node = (n) => {
  const b = enc('NodeDef', n);
  put(cat(tag(1, 2), varint(b.length), b));
};
const F = { type: 1 };
const t0 = performance.now();
node({ name: 'x', op: 'Placeholder', attr: { dtype: F, shape: { shape: { dim: [{ size: N }] } } } });
for (let k = 0; k < CONSTS; k++) {
  // NodeDef{name, op, attr{dtype}} + attr entry 'value' -> AttrValue{tensor: TensorProto{dtype, shape, tensor_content}}
  const head = enc('NodeDef', { name: `c${k}`, op: 'Const', attr: { dtype: F } });
  const protoHead = cat(enc('TensorProto', { dtype: 1, tensor_shape: { dim: [{ size: N }] } }), tag(4, 2), varint(N * 4));
  const tensorLen = protoHead.length + N * 4;
  const attrValue = cat(tag(8, 2), varint(tensorLen));
  const attrValueLen = attrValue.length + tensorLen;
  const entry = cat(tag(1, 2), varint(5), new TextEncoder().encode('value'), tag(2, 2), varint(attrValueLen));
  const entryLen = entry.length + attrValueLen;
  const attrField = cat(tag(5, 2), varint(entryLen));
  const nodeLen = head.length + attrField.length + entryLen;
  put(cat(tag(1, 2), varint(nodeLen), head, attrField, entry, attrValue, protoHead));
  const chunk = new Float32Array(1 << 22);
  for (let i = 0; i < N; i += chunk.length) {
    const n = Math.min(chunk.length, N - i);
    for (let j = 0; j < n; j++) chunk[j] = value(k, i + j);
    put(new Uint8Array(chunk.buffer, 0, n * 4));
  }
}
for (let k = 0; k < CONSTS; k++) node({ name: `y${k}`, op: 'AddV2', input: [k ? `y${k - 1}` : 'x', `c${k}`], attr: { T: F } });
closeSync(fd);
const size = statSync(file).size;
console.log(`wrote ${file}: ${size} bytes (${(size / 2 ** 30).toFixed(2)} GiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

function check(graph, how, seconds) {
  let checked = 0;
  for (let k = 0; k < CONSTS; k++) {
    const t = graph.initializers.get(`c${k}`);
    if (!t || t.size !== N) throw new Error(`${how}: c${k} missing or of size ${t?.size}`);
    const d = t.data;
    for (let i = 0; i < N; i++) if (d[i] !== Math.fround(value(k, i))) throw new Error(`${how}: c${k}[${i}] = ${d[i]}`);
    checked += N;
  }
  console.log(`${how}: ${graph.nodes.length} nodes, ${checked} elements checked, read in ${seconds.toFixed(1)} s, rss ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB`);
}

try {
  let t = performance.now();
  const byPosition = await readGraphDefFile(file);
  check(byPosition.graph, 'readGraphDefFile (positioned reads)', (performance.now() - t) / 1000);
  byPosition.graph.initializers.clear();
  t = performance.now();
  const loaded = await loadModelFiles([file]);
  check(loaded.graph, 'loadModelFiles (the CLI path: positioned reads above 2 GiB)', (performance.now() - t) / 1000);
} finally {
  rmSync(dir, { recursive: true, force: true });
  console.log(`deleted ${dir}`);
}

// Why a model loses accuracy in full int8, on nnport's float runtime (QDQ simulation, no
// interpreter): (1) how much the float model amplifies white noise added to its input, (2) the
// output SNR with only the weights int8, only the activations int8, and both, (3) each quantized
// activation's own contribution (that one tensor int8, everything else float).
// Calibration and held-out inputs: photo-like images (scripts/fixtures/calibration_images.py).
// Run: node --import tsx bench/int8-accuracy.mjs [--model mobilenet_v2] [--samples 64] [--per-tensor]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerAllFormats } from '../src/formats/all.js';
import { readNpy } from '../src/formats/numpy/index.js';
import { readModel } from '../src/formats/registry.js';
import { prepareForTflite } from '../src/formats/tflite/write.js';
import { Tensor } from '../src/ir/tensor.js';
import { quantizeGraph, snrDb } from '../src/passes/quantize.js';
import { runGraph } from '../src/runtime/executor.js';

const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const model = arg('model', 'mobilenet_v2');
const N = Number(arg('samples', 64));
const root = new URL('..', import.meta.url).pathname;
registerAllFormats();
const m = await readModel(new Uint8Array(readFileSync(join(root, `.fixtures-cache/models/${model}/model.onnx`))), { fileName: `${model}.onnx` });
const g = await prepareForTflite(m.graph);
const input = g.inputs[0];
const [, h, w] = input.shape;
const tmp = mkdtempSync(join(tmpdir(), 'nnport-int8-accuracy-'));
const images = (name, count, seed) => {
  const out = join(tmp, name);
  execFileSync('/usr/bin/python3', [join(root, 'scripts/fixtures/calibration_images.py'), '--out', out, '--count', String(count), '--size', `${h}x${w}`, '--seed', String(seed), '--formats', 'png-rgb', '--mean', '123.675,116.28,103.53', '--std', '58.395,57.12,57.375']);
  return readdirSync(join(out, 'npy')).sort().map((f) => readNpy(readFileSync(join(out, 'npy', f))));
};
const calibration = images('calibration', N, 11);
const held = images('held', 3, 12);
rmSync(tmp, { recursive: true, force: true });
const out = async (graph, x) => [...(await runGraph(graph, { [input.name]: x })).outputs.values()][0].toFloat32();
const floats = await Promise.all(held.map((x) => out(g, x)));
const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
const snrOn = async (graph) => mean(await Promise.all(held.map(async (x, k) => snrDb(floats[k], await out(graph, x)))));

// (1) noise sensitivity of the float model
let seed = 5;
const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
for (const db of [50, 40, 30]) {
  const r = [];
  for (let k = 0; k < held.length; k++) {
    const x = held[k].data;
    let p = 0;
    for (const v of x) p += v * v;
    const a = Math.sqrt(p / x.length) * 10 ** (-db / 20);
    r.push(snrDb(floats[k], await out(g, Tensor.float32(held[k].shape, x.map((v) => v + a * gauss())))));
  }
  console.log(`float model, white noise ${db} dB below the input -> output SNR ${mean(r).toFixed(1)} dB`);
}

// (2) weights only / activations only / both
const q = (await quantizeGraph(g, { mode: 'int8', calibration: calibration.map((t) => [t]) })).graph;
const actQ = new Set(q.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.outputs[0]));
const producerOf = new Map(q.nodes.map((n) => [n.outputs[0], n]));
/** The quantized graph with the activation Q/DQ pairs in `keep` only (all: undefined). */
const activations = (keep) => ({
  ...q,
  nodes: q.nodes.flatMap((n) => {
    if (n.opType === 'QuantizeLinear' && keep && !keep.has(n)) return [];
    if (n.opType === 'DequantizeLinear' && actQ.has(n.inputs[0]) && keep && !keep.has(producerOf.get(n.inputs[0]))) return [{ ...n, opType: 'Identity', inputs: [producerOf.get(n.inputs[0]).inputs[0]], attrs: {} }];
    return [n];
  }),
});
/** float weights and biases in place of their DequantizeLinear (names: <float>_dequantized) */
const floatWeights = (graph) => {
  const inits = new Map(graph.initializers);
  const nodes = graph.nodes.map((n) => {
    const orig = n.outputs[0].replace(/_dequantized$/, '');
    if (n.opType !== 'DequantizeLinear' || !graph.initializers.has(n.inputs[0]) || !g.initializers.has(orig)) return n;
    inits.set(orig, g.initializers.get(orig));
    return { ...n, opType: 'Identity', inputs: [orig], attrs: {} };
  });
  return { ...graph, nodes, initializers: inits };
};
console.log(`int8 (minmax, ${N} images), held-out images: weights and activations ${(await snrOn(q)).toFixed(1)} dB, weights only ${(await snrOn(activations(new Set()))).toFixed(1)} dB, activations only ${(await snrOn(floatWeights(q))).toFixed(1)} dB`);

// (3) each activation alone
if (process.argv.includes('--per-tensor')) {
  const base = floatWeights(q);
  for (const n of base.nodes.filter((k) => k.opType === 'QuantizeLinear')) {
    const one = { ...base, nodes: base.nodes.flatMap((k) => {
      if (k.opType === 'QuantizeLinear' && k !== n) return [];
      if (k.opType === 'DequantizeLinear' && actQ.has(k.inputs[0]) && k.inputs[0] !== n.outputs[0]) return [{ ...k, opType: 'Identity', inputs: [producerOf.get(k.inputs[0]).inputs[0]], attrs: {} }];
      return [k];
    }) };
    console.log(`  only ${n.inputs[0].replace(/_float$/, '')}: ${(await snrOn(one)).toFixed(1)} dB`);
  }
}

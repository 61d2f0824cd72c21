// An ONNX Scan over a sequence of run-time length (scripts/fixtures/onnx_scan_models.py: a symbolic
// sequence dim, or a length sliced by an input value; reverse directions, two scan inputs, scan
// output axes 1 and -1) rewritten as a Loop (src/passes/scan-to-loop.ts) and kept as a loop by the
// writers: a TFLite WHILE run by the real TFLite interpreter, a TF.js graph model's StatelessWhile
// run by TensorFlow.js, a frozen GraphDef read back and run by nnport; each against onnxruntime-node
// running the original model, at two sequence lengths. (PyTorch 1.13 exports a loop as Loop, not
// Scan: there is no PyTorch-made case.) And an opset-8 Scan (batch axis 0) of fixed shapes, which
// inline-control-flow.ts unrolls per batch entry, in the interpreter and TF.js against onnxruntime.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/formats/numpy/index.js';
import { convert, loadModel, run } from '../../src/index.js';
import { Tensor } from '../../src/ir/tensor.js';
import { initKernels } from '../../src/wasm/loader.js';
import { maxAbsDiff } from '../support/error-metrics.js';
import { ensureScriptFixtures } from '../support/fixture-script.js';
import { ortRun } from '../support/ort.js';
import { flatcJson, opNameOf, type FlatcOps, useTfliteOracle } from '../support/tflite-test.js';
import { loadWrittenGraphModel, runGraphModel, tf } from './tfjs/graph-oracle.js';

const NETS = {
  scan_sum: { inputs: ['s0', 'x_full', 'n'], outputs: ['s', 'ys'] },
  scan_rnn: { inputs: ['h0', 'x_full', 'y_full', 'n'], outputs: ['h', 'hs', 'ds', 'hs_last'] },
} as const;
const LENGTHS = [3, 7];
let dir = '';
const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  await tf.setBackend('cpu');
  dir = ensureScriptFixtures('onnx_scan_models.py', 'scan-models', [...Object.keys(NETS), 'scan8_sum']);
}, 300_000);

const bytesOf = (net: string) => new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));
const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const feedsOf = (net: keyof typeof NETS, t: number): Record<string, Tensor> => Object.fromEntries(NETS[net].inputs.map((i) => [i, npy(net, `${i}_${t}`)]));

/** onnxruntime-node on the original model (Scan): the expected outputs, in NETS order. */
async function expected(net: keyof typeof NETS, t: number): Promise<Tensor[]> {
  const outs = await ortRun(bytesOf(net), feedsOf(net, t));
  return NETS[net].outputs.map((o) => outs.get(o)!);
}

function compare(what: string, got: Tensor[], want: Tensor[]): void {
  expect(got.length).toBe(want.length);
  want.forEach((w, k) => {
    expect(got[k]!.shape, `${what} output ${k}`).toEqual(w.shape);
    const err = maxAbsDiff(got[k]!.toFloat32(), w.toFloat32());
    console.log(`${what} output ${k} [${w.shape.join(', ')}]: max abs ${err.toExponential(2)} vs onnxruntime`);
    expect(err, `${what} output ${k}`).toBeLessThanOrEqual(1e-5);
  });
}

describe('an opset-8 Scan (batch axis) of fixed shapes, each batch entry unrolled', () => {
  it('scan8_sum (2 entries, reverse direction) as .tflite and a TF.js graph model matches onnxruntime', async () => {
    const feeds = { s0: npy('scan8_sum', 's0_4'), x: npy('scan8_sum', 'x_4') };
    const outs = await ortRun(bytesOf('scan8_sum'), feeds);
    const want = ['s', 'ys'].map((o) => outs.get(o)!);
    const model = await loadModel(bytesOf('scan8_sum'), { fileName: 'scan8_sum.onnx' });
    const { bytes, notes } = await convert(model, 'scan8_sum.tflite');
    expect(notes.join('\n')).toMatch(/Scan '.*' unrolled: 8 iterations/);
    compare('scan8_sum .tflite', (await oracle.run(bytes, [feeds.s0.toFloat32(), feeds.x.toFloat32()])).map((y) => Tensor.float32(y.shape, y.data as Float32Array)), want);
    const files = await convert(model, 'out/model.json', { tfjsFormat: 'graph' });
    const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
    compare('scan8_sum TF.js', await runGraphModel(m, [feeds.s0, feeds.x], ['s0', 'x'], ['s', 'ys']), want);
    m.dispose();
  });
});

describe('Scan of run-time sequence length kept as a loop (Scan -> Loop)', () => {
  it.each(Object.keys(NETS) as Array<keyof typeof NETS>)('%s as .tflite: a WHILE, run by the TFLite interpreter, matches onnxruntime at T = 3 and 7', async (net) => {
    const { bytes, notes } = await convert(await loadModel(bytesOf(net), { fileName: `${net}.onnx` }), `${net}.tflite`, { int32Io: true, keepNchwIo: true });
    expect(notes.join('\n')).toMatch(/Scan kept as tflite control flow/);
    const json = flatcJson<FlatcOps & { subgraphs: Array<{ operators: Array<{ opcode_index?: number }> }> }>(bytes, net);
    expect(json.subgraphs[0]!.operators.map((o) => opNameOf(json, o))).toContain('WHILE');
    for (const t of LENGTHS) {
      const feeds = NETS[net].inputs.map((i) => (i === 'n' ? Int32Array.from(npy(net, `n_${t}`).toNumbers()) : npy(net, `${i}_${t}`).toFloat32()));
      const ys = await oracle.run(bytes, feeds);
      const want = await expected(net, t);
      expect(ys.length).toBe(want.length);
      want.forEach((w, k) => {
        expect(ys[k]!.shape, `T = ${t} output ${k}`).toEqual(w.shape);
        const err = maxAbsDiff(ys[k]!.data as Float32Array, w.toFloat32());
        console.log(`${net} .tflite T = ${t} output ${k} [${w.shape.join(', ')}]: max abs ${err.toExponential(2)} vs onnxruntime`);
        expect(err).toBeLessThanOrEqual(1e-5);
      });
    }
  });

  it.each(Object.keys(NETS) as Array<keyof typeof NETS>)('%s as a TF.js graph model: a StatelessWhile, run by TensorFlow.js, matches onnxruntime at T = 3 and 7', async (net) => {
    const files = await convert(await loadModel(bytesOf(net), { fileName: `${net}.onnx` }), 'out/model.json', { tfjsFormat: 'graph' });
    const json = JSON.parse(new TextDecoder().decode(files.bytes));
    expect((json.modelTopology.node as Array<{ op: string }>).map((n) => n.op)).toContain('StatelessWhile');
    const m = await loadWrittenGraphModel({ json: files.bytes, sidecars: files.sidecars });
    for (const t of LENGTHS) {
      const feeds = feedsOf(net, t);
      const ys = await runGraphModel(m, NETS[net].inputs.map((i) => feeds[i]!), [...NETS[net].inputs], [...NETS[net].outputs]);
      compare(`${net} TF.js T = ${t}`, ys, await expected(net, t));
    }
    m.dispose();
  });

  it.each(Object.keys(NETS) as Array<keyof typeof NETS>)('%s as a frozen GraphDef: a StatelessWhile, read back and run by nnport, matches onnxruntime at T = 3 and 7', async (net) => {
    const { bytes } = await convert(await loadModel(bytesOf(net), { fileName: `${net}.onnx` }), `${net}.pb`);
    const back = await loadModel(bytes, { fileName: `${net}.pb` });
    for (const t of LENGTHS) {
      const outs = (await run(back, feedsOf(net, t))).outputs;
      compare(`${net} .pb T = ${t}`, NETS[net].outputs.map((o) => outs.get(o)!), await expected(net, t));
    }
  });
});

// PyTorch modules written with torch.einsum (scripts/fixtures/einsum_models.py: multi-head
// attention, a bilinear layer, projections / sums / outer products / transposes, the same with a
// dynamic batch dim, an ellipsis, a diagonal, a trace) converted to .tflite, Keras .h5 / .keras
// and TF.js, where Einsum is lowered to Transpose / Reshape / MatMul / ReduceSum
// (src/passes/lower-einsum.ts), each file run by its own framework against PyTorch's output: the
// real TFLite interpreter (float32; dynamic-range and int8 for the attention), TensorFlow.js for the
// .h5, the model.json and the .keras archive (its config in Keras 2's dialect). nnport's own run
// of the lowered graph is checked against PyTorch too. GraphDef keeps TF's Einsum, ONNX its Einsum.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { ZipReader } from '../../../src/io/zip.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { lowerEinsum } from '../../../src/passes/lower-einsum.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { pooledSnrDb, relErr } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { tfliteOpNames, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';
import { predict, tfjsModelFromH5, tfjsModelFromJson, tfjsModelFromKeras3 } from '../keras/tfjs-oracle.js';

const NETS = ['einsum_attention', 'einsum_bilinear', 'einsum_projection', 'einsum_projection_dyn', 'einsum_ellipsis', 'einsum_diagonal', 'einsum_trace'] as const;
/** the nets a layers model can hold: a diagonal has no layer, and the trace has no batch axis */
const LAYERS = new Set<string>(['einsum_attention', 'einsum_bilinear', 'einsum_projection', 'einsum_projection_dyn', 'einsum_ellipsis']);
/** exported with a dynamic batch dim: the .tflite is run at the input's batch (3) */
const DYNAMIC = new Set<string>(['einsum_projection_dyn']);
const CACHE = join(REPO_ROOT, '.fixtures-cache/einsum');
const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  ensureScriptFixtures('einsum_models.py', 'einsum', NETS);
}, 300_000);

const npy = (name: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(CACHE, name, f))), f);
const inputsOf = (name: string): Tensor[] => (name === 'einsum_bilinear' ? [npy(name, 'input.npy'), npy(name, 'input2.npy')] : [npy(name, 'input.npy')]);
const load = async (name: string) => loadModel(new Uint8Array(readFileSync(join(CACHE, name, 'model.onnx'))), { fileName: `${name}.onnx` });

describe('Einsum in .tflite / .h5 / TF.js files vs PyTorch', () => {
  for (const name of NETS) {
    it(`${name}: nnport's lowered graph, the TFLite interpreter${LAYERS.has(name) ? ' and TensorFlow.js (.h5, model.json, .keras)' : ''} match PyTorch`, async () => {
      const model = await load(name);
      if (model.kind !== 'graph') throw new Error('expected a graph');
      expect(model.graph.nodes.some((n) => n.opType === 'Einsum')).toBe(true);
      const xs = inputsOf(name);
      const want = npy(name, 'output.npy');
      const feeds = new Map(model.graph.inputs.filter((v) => !model.graph.initializers.has(v.name)).map((v, i) => [v.name, xs[i]!] as const));

      const lowered = lowerEinsum(model.graph).graph;
      const ours = (await runGraph(lowered, feeds)).outputs.get('y')!;
      const eRun = relErr(ours.toFloat32(), want.toFloat32());
      console.log(`${name} lowered graph (nnport) vs PyTorch ${eRun.toExponential(2)}`);
      expect(eRun).toBeLessThanOrEqual(1e-5);

      const tfl = await convert(model, `${name}.tflite`);
      const ops = tfliteOpNames(tfl.bytes, name);
      expect(tfl.notes.join('\n')).toMatch(/Einsum written as MatMul/);
      if (DYNAMIC.has(name)) expect(ops).toContain('BATCH_MATMUL');
      const [y] = await oracle.run(DYNAMIC.has(name) ? withStoredDim(tfl.bytes, 0, xs[0]!.shape[0]!) : tfl.bytes, xs.map((x) => x.toFloat32()));
      expect(y!.shape).toEqual(want.shape);
      const eTfl = relErr(y!.data as Float32Array, want.toFloat32());
      console.log(`${name} .tflite vs PyTorch ${eTfl.toExponential(2)} (${[...new Set(ops)].join(' ')})`);
      expect(eTfl).toBeLessThanOrEqual(1e-5);

      if (!LAYERS.has(name)) {
        await expect(convert(model, `${name}.h5`)).rejects.toThrow(UnsupportedError);
        await expect(convert(model, `${name}.h5`)).rejects.toThrow(/Einsum '.*' in a keras-h5 file/);
        return;
      }
      const h5 = await convert(model, `${name}.h5`);
      const fromH5 = predict(await tfjsModelFromH5(h5.bytes), xs)[0]!;
      const eH5 = relErr(fromH5.toFloat32(), want.toFloat32());
      const js = await convert(model, `${name}/model.json`);
      const fromJs = predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), xs)[0]!;
      const eJs = relErr(fromJs.toFloat32(), want.toFloat32());
      // a Keras 3 archive: its config in Keras 2's dialect and its vars, built by TF.js
      const z = ZipReader.open((await convert(model, `${name}.keras`)).bytes);
      const fromK3 = predict(await tfjsModelFromKeras3(JSON.parse(new TextDecoder().decode(z.read('config.json'))), z.read('model.weights.h5')), xs)[0]!;
      const eK3 = relErr(fromK3.toFloat32(), want.toFloat32());
      console.log(`${name} .h5 (TF.js) vs PyTorch ${eH5.toExponential(2)}, model.json ${eJs.toExponential(2)}, .keras ${eK3.toExponential(2)}`);
      expect(fromH5.shape).toEqual(want.shape);
      expect(eH5).toBeLessThanOrEqual(1e-5);
      expect(eJs).toBeLessThanOrEqual(1e-5);
      expect(eK3).toBeLessThanOrEqual(1e-5);
      // and nnport reads its .h5 back (Keras' Dot included) and runs it
      const back = await loadModel(h5.bytes, { fileName: `${name}.h5` });
      if (back.kind !== 'graph') throw new Error('expected a graph');
      const again = (await runGraph(back.graph, new Map(back.graph.inputs.map((v, i) => [v.name, xs[i]!] as const)))).outputs.values().next().value!;
      expect(relErr(again.toFloat32(), want.toFloat32())).toBeLessThanOrEqual(1e-5);
    });
  }

  it('einsum_attention with --quantize dynamic: the TFLite interpreter within 5e-2 of PyTorch', async () => {
    const model = await load('einsum_attention');
    const want = npy('einsum_attention', 'output.npy');
    const q = await convert(model, 'einsum_attention.tflite', { quantize: { mode: 'dynamic' } });
    const [y] = await oracle.run(q.bytes, inputsOf('einsum_attention').map((x) => x.toFloat32()));
    const e = relErr(y!.data as Float32Array, want.toFloat32());
    console.log(`einsum_attention dynamic .tflite vs PyTorch ${e.toExponential(2)}`);
    expect(e).toBeLessThanOrEqual(5e-2);
  });

  it('einsum_attention with --quantize int8 (16 seeded calibration inputs): the TFLite interpreter vs PyTorch', async () => {
    const model = await load('einsum_attention');
    const want = npy('einsum_attention', 'output.npy');
    const x = inputsOf('einsum_attention')[0]!;
    const r = rng(11);
    const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    const calibration = Array.from({ length: 16 }, () => [Tensor.float32([...x.shape], Float32Array.from({ length: x.size }, normal))]);
    const q = await convert(model, 'einsum_attention.tflite', { quantize: { mode: 'int8', calibration } });
    expect(tfliteOpNames(q.bytes, 'einsum_attention')).toContain('BATCH_MATMUL');
    const [y] = await oracle.run(q.bytes, [x.toFloat32()]);
    const snr = pooledSnrDb([want.toFloat32()], [y!.data as Float32Array]);
    console.log(`einsum_attention int8 .tflite vs PyTorch ${snr.toFixed(1)} dB`);
    expect(snr).toBeGreaterThanOrEqual(30);
  });

  it('keeps Einsum in .onnx and .pb files', async () => {
    const model = await load('einsum_bilinear');
    const onnx = await loadModel((await convert(model, 'b.onnx')).bytes, { fileName: 'b.onnx' });
    expect(onnx.kind === 'graph' && onnx.graph.nodes.some((n) => n.opType === 'Einsum')).toBe(true);
    const pb = await loadModel((await convert(model, 'b.pb')).bytes, { fileName: 'b.pb' });
    expect(pb.kind === 'graph' && pb.graph.nodes.some((n) => n.opType === 'Einsum')).toBe(true);
  });
});

// ONNX LayerNormalization (opset 17, what PyTorch exports nn.LayerNorm as) in TFLite and GraphDef
// files, written as its arithmetic (src/passes/decompose-layernorm.ts), each file run by an
// independent runtime against PyTorch's own output (scripts/fixtures/layernorm_models.py, made into
// .fixtures-cache/layernorm/): a LayerNorm over the last dim and over the last two (an MLP on
// sequences), a ConvNeXt block's norm between two permutes of conv features, and one over
// channels and space of NCHW data (axis 1). .tflite float32 / float16 / dynamic-range by the real
// TFLite interpreter, .pb by the NumPy GraphDef runner (OpenCV 4.6 has no Mean over channels).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel } from '../../../src/index.js';
import { emptyGraph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { decomposeLayerNorm } from '../../../src/passes/decompose-layernorm.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { relErr } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';
import { pythonRun } from '../../formats/tensorflow/python-runs.js';

const NETS = ['ln_mlp', 'ln_convnext', 'ln_chw'] as const;
const CACHE = join(REPO_ROOT, '.fixtures-cache/layernorm');
const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  ensureScriptFixtures('layernorm_models.py', 'layernorm', NETS);
}, 300_000);

const npy = (name: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(CACHE, name, f))), f);
/** NCHW -> NHWC for the conv nets' 4-D inputs and outputs; the MLP's 3-D sequences stay as they are */
const io = (t: Tensor): Tensor => (t.rank === 4 ? permuteTensor(t, [0, 2, 3, 1]) : t);

describe('decomposeLayerNorm', () => {
  it('writes mean, variance and the normalised value as ONNX ops that compute what LayerNormalization does, Mean and InvStdDev outputs included', async () => {
    // checked against a direct evaluation of the ONNX definition here, per row of a [3, 2, 5] input over the last two dims
    const g = emptyGraph();
    g.opsets[''] = 17;
    const r = rng(3);
    const x = Float32Array.from({ length: 30 }, () => r() * 4 - 2);
    const scale = Float32Array.from({ length: 10 }, () => 0.5 + r());
    const bias = Float32Array.from({ length: 10 }, () => r() - 0.5);
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [3, 2, 5] });
    g.initializers.set('scale', Tensor.float32([2, 5], scale));
    g.initializers.set('bias', Tensor.float32([2, 5], bias));
    g.nodes.push({ name: 'ln', opType: 'LayerNormalization', domain: '', inputs: ['x', 'scale', 'bias'], outputs: ['y', 'mean', 'inv'], attrs: { axis: { type: 'int', value: 1 }, epsilon: { type: 'float', value: 0.01 } } });
    g.outputs.push({ name: 'y', dtype: 'float32' }, { name: 'mean', dtype: 'float32' }, { name: 'inv', dtype: 'float32' });
    const { graph, decomposed } = decomposeLayerNorm(g);
    expect(decomposed).toEqual(['ln']);
    expect(graph.nodes.some((n) => n.opType === 'LayerNormalization')).toBe(false);
    const out = (await runGraph(graph, new Map([['x', Tensor.float32([3, 2, 5], x)]]))).outputs;
    for (let b = 0; b < 3; b++) {
      const row = Array.from(x.subarray(b * 10, b * 10 + 10));
      const m = row.reduce((a, v) => a + v, 0) / 10;
      const v = row.reduce((a, u) => a + (u - m) ** 2, 0) / 10;
      const inv = 1 / Math.sqrt(v + 0.01);
      expect(out.get('mean')!.toNumbers()[b]).toBeCloseTo(m, 5);
      expect(out.get('inv')!.toNumbers()[b]).toBeCloseTo(inv, 4);
      const y = out.get('y')!.toNumbers().slice(b * 10, b * 10 + 10);
      row.forEach((u, i) => expect(y[i]).toBeCloseTo((u - m) * inv * scale[i]! + bias[i]!, 5));
    }
    expect(out.get('mean')!.shape).toEqual([3, 1, 1]);
  });
});

describe('LayerNormalization -> .tflite / .pb, run by the real frameworks vs PyTorch', () => {
  for (const name of NETS) {
    it(`${name}: the TFLite interpreter (float32, float16, dynamic) and the NumPy GraphDef runner (.pb) match PyTorch`, async () => {
      const model = await loadModel(new Uint8Array(readFileSync(join(CACHE, name, 'model.onnx'))), { fileName: `${name}.onnx` });
      const x = io(npy(name, 'input.npy'));
      const want = io(npy(name, 'output.npy'));

      const tfl = await convert(model, `${name}.tflite`);
      const ops = tfliteOpNames(tfl.bytes, name);
      expect(ops).toEqual(expect.arrayContaining(['MEAN', 'SUB', 'MUL', 'SQRT', 'DIV']));
      const [y] = await oracle.run(tfl.bytes, [x.toFloat32()]);
      expect(y!.shape).toEqual(want.shape);
      const err = relErr(y!.data as Float32Array, want.toFloat32());
      console.log(`${name} float32 .tflite vs PyTorch ${err.toExponential(2)} (${ops.join(' ')})`);
      expect(err).toBeLessThanOrEqual(1e-5);
      for (const [mode, bound] of [['float16', 2e-3], ['dynamic', 5e-2]] as const) {
        const q = await convert(model, `${name}.tflite`, { quantize: { mode } });
        const [yq] = await oracle.run(q.bytes, [x.toFloat32()]);
        const e = relErr(yq!.data as Float32Array, want.toFloat32());
        console.log(`${name} ${mode} .tflite vs PyTorch ${e.toExponential(2)}`);
        expect(e).toBeLessThanOrEqual(bound);
      }

      const pb = await convert(model, `${name}.pb`);
      // OpenCV 4.6 reads a Mean over H and W only ("Unsupported mode of reduce_mean"): these are
      // over channels (and sequences), so the NumPy GraphDef runner is the .pb's oracle here
      const kind = 'numpy';
      const fromPb = pythonRun(kind, `layernorm-${name}`, pb.bytes, x, ['y']).get('y')!;
      const ePb = relErr(fromPb.toFloat32(), want.toFloat32());
      console.log(`${name} .pb (${kind}) vs PyTorch ${ePb.toExponential(2)}`);
      expect(ePb).toBeLessThanOrEqual(1e-5);
    });
  }
});

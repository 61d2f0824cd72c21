// ONNX GroupNormalization (opset 18: scale / bias per group; opset 21: per channel), one node
// written with onnx.helper (scripts/fixtures/group_norm_models.py gn_opset18 / gn_opset21; torch
// 1.13 exports opset 17 at most) and PyTorch's F.group_norm with the same parameters as the
// expected output: run by nnport's runtime, and converted to the formats with no group-norm op as
// PyTorch's own spelling (Reshape, InstanceNormalization, Reshape, Mul, Add) — .tflite run by the
// real interpreter, a TF.js graph model run by TF.js, a .pb read back — and to Keras
// GroupNormalization (.keras read back).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel, run } from '../../../src/index.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { relErr } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { loadWrittenGraphModel, runGraphModel } from '../tfjs/graph-oracle.js';

const NETS = ['gn_opset18', 'gn_opset21'] as const;
let dir = '';
const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  dir = ensureScriptFixtures('group_norm_models.py', 'group-norm', NETS);
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const nhwc = (t: Tensor): Tensor => permuteTensor(t, [0, 2, 3, 1]);
const first = async (m: Awaited<ReturnType<typeof loadModel>>, x: Tensor): Promise<Tensor> => [...(await run(m, { [(m as { graph: Graph }).graph.inputs[0]!.name]: x })).outputs.values()][0]!;

describe('ONNX GroupNormalization vs PyTorch F.group_norm', () => {
  for (const net of NETS) {
    it(`${net}: nnport's runtime, .tflite in the interpreter, TF.js graph model, .pb and .keras read back`, async () => {
      const model = await loadModel(new Uint8Array(readFileSync(join(dir, net, 'model.onnx'))), { fileName: `${net}.onnx` });
      const x = npy(net, 'input');
      const want = npy(net, 'output');
      const errs: Record<string, number> = {};
      errs.runtime = relErr((await first(model, x)).toFloat32(), want.toFloat32());
      const tfl = await convert(model, 'gn.tflite');
      expect(tfl.notes.join('\n')).toMatch(/1 GroupNormalization written as Reshape, InstanceNormalization/);
      // each file's input and output as it declares them: channels-last, or NCHW where the layout pass
      // kept it (the input of the decomposition's Reshape to groups, which reads the NCHW order)
      const laid = (shape: readonly (number | string | null)[] | undefined, t: Tensor): Tensor => (shape?.join() === t.shape.join() ? t : nhwc(t));
      const tflIn = (await oracle.inputs(tfl.bytes))[0]!.shape;
      const [ty] = await oracle.run(tfl.bytes, [laid(tflIn, x).toFloat32()]);
      errs.tflite = relErr(ty!.data as Float32Array, laid(ty!.shape, want).toFloat32());
      const js = await convert(model, 'web/model.json', { tfjsFormat: 'graph' });
      const gm = await loadWrittenGraphModel({ json: js.bytes, sidecars: js.sidecars });
      const [gy] = await runGraphModel(gm, [laid(gm.inputs[0]!.shape, x)]);
      errs.tfjsGraph = relErr(gy!.toFloat32(), laid(gy!.shape, want).toFloat32());
      for (const out of ['gn.pb', 'gn.keras']) {
        const back = await loadModel((await convert(model, out)).bytes, { fileName: out });
        const y = await first(back, laid((back as { graph: Graph }).graph.inputs[0]!.shape, x));
        errs[out] = relErr(y.toFloat32(), laid(y.shape, want).toFloat32());
      }
      console.log(`${net} vs PyTorch: ${Object.entries(errs).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);
      for (const v of Object.values(errs)) expect(v).toBeLessThan(1e-5);
    });
  }
});

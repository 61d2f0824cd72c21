// ONNX RoiAlign (avg, sampling_ratio 2) in the GraphDef / TF.js graph writers as CropAndResize of
// the bins' sample points and an AvgPool (src/formats/tensorflow/write-roi-align.ts), against
// torchvision.ops.roi_align (scripts/fixtures/roi_align_models.py): opset 16 nodes with aligned
// False / True, and torchvision's own opset-11 export; 12 boxes, half of them partly or wholly
// outside the map, one smaller than a pixel. The TF.js graph model runs in TF.js 4.9; onnxruntime
// runs the ONNX file as a check of the fixture. Max mode and sampling_ratio 0: write-roi-align-max.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { loadWrittenGraphModel, runGraphModel } from '../tfjs/graph-oracle.js';

const NETS = ['aligned_false', 'aligned_true', 'exported', 'expand', 'scatter', 'unsqueeze'] as const;
let dir = '';

beforeAll(() => {
  dir = ensureScriptFixtures('roi_align_models.py', 'roi-align', NETS);
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const onnxBytes = (net: string) => new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));

describe('ONNX RoiAlign vs torchvision.ops.roi_align', () => {
  for (const [net, dynamic] of [...NETS.filter((n) => n !== 'expand' && n !== 'scatter' && n !== 'unsqueeze').map((n) => [n, false] as const), ['aligned_true', true] as const]) {
    it(`${net}${dynamic ? ', a map of run-time height / width' : ''}: TF.js graph model in TF.js`, async () => {
      const names = net === 'exported' ? ['x', 'boxes'] : ['x', 'rois', 'batch_indices'];
      const feeds = Object.fromEntries(names.map((n) => [n, npy(net, n)]));
      const want = npy(net, 'output').toFloat32();
      const ort = await ortRun(onnxBytes(net), feeds);
      const model = await loadModel(onnxBytes(net), { fileName: `${net}.onnx` });
      const g = (model as { graph: Graph }).graph;
      expect(g.nodes.some((n) => n.opType === 'RoiAlign')).toBe(true);
      // (an FPN level behind a computed Resize: H and W known only at run time, read from the map's Shape)
      if (dynamic) g.inputs[0]!.shape = [2, 8, 'H', 'W'];
      const js = await convert(model, 'web/model.json', { tfjsFormat: 'graph' });
      if (dynamic) expect(new TextDecoder().decode(js.bytes)).toMatch(/"op":\s*"Shape"/);
      const gm = await loadWrittenGraphModel({ json: js.bytes, sidecars: js.sidecars });
      // (no op of the net is channels-first: the layout pass leaves x in NCHW)
      const order = gm.inputs.map((i) => names.find((n) => i.name === n || i.name.startsWith(`${n}:`)) ?? i.name);
      const [y] = await runGraphModel(gm, order.map((n) => feeds[n]!));
      expect(y!.shape).toEqual(npy(net, 'output').shape);
      const errs = { onnxruntime: maxAbsDiff([...ort.values()][0]!.toFloat32(), want), tfjsGraph: maxAbsDiff(y!.toFloat32(), want) };
      console.log(`${net}${dynamic ? ' (run-time H, W)' : ''} vs PyTorch, max abs: ${Object.entries(errs).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
      for (const v of Object.values(errs)) expect(v).toBeLessThan(1e-5);
    });
  }

  it('expand: Expand to a shape fed at run time (BroadcastTo of BroadcastArgs) in TF.js, vs NumPy', async () => {
    const feeds = { v: npy('expand', 'v'), shape: npy('expand', 'shape') };
    const want = npy('expand', 'output');
    const js = await convert(await loadModel(onnxBytes('expand'), { fileName: 'e.onnx' }), 'web/model.json', { tfjsFormat: 'graph' });
    expect(new TextDecoder().decode(js.bytes)).toMatch(/"op":\s*"BroadcastArgs"/);
    const gm = await loadWrittenGraphModel({ json: js.bytes, sidecars: js.sidecars });
    const [y] = await runGraphModel(gm, gm.inputs.map((i) => (i.name.startsWith('shape') ? feeds.shape : feeds.v)));
    expect(y!.shape).toEqual(want.shape);
    expect(maxAbsDiff(y!.toFloat32(), want.toFloat32())).toBe(0);
  });

  it('scatter: ScatterElements at indices of run-time shape (MultiScaleRoIAlign scattering a level back) in TF.js, vs NumPy', async () => {
    const names = ['data', 'idx', 'shape', 'updates'];
    const feeds = Object.fromEntries(names.map((n) => [n, npy('scatter', n)]));
    const want = npy('scatter', 'output');
    const js = await convert(await loadModel(onnxBytes('scatter'), { fileName: 's.onnx' }), 'web/model.json', { tfjsFormat: 'graph' });
    const gm = await loadWrittenGraphModel({ json: js.bytes, sidecars: js.sidecars });
    const [y] = await runGraphModel(gm, gm.inputs.map((i) => feeds[names.find((n) => i.name === n || i.name.startsWith(`${n}:`))!]!));
    expect(y!.shape).toEqual(want.shape);
    expect(maxAbsDiff(y!.toFloat32(), want.toFloat32())).toBe(0);
  });

  it('unsqueeze: Unsqueeze / Squeeze / Flatten of a value of several run-time dims (ExpandDims / Squeeze / Reshape by its Shape) in TF.js, vs NumPy', async () => {
    const want = npy('unsqueeze', 'output');
    const js = await convert(await loadModel(onnxBytes('unsqueeze'), { fileName: 'u.onnx' }), 'web/model.json', { tfjsFormat: 'graph' });
    expect(new TextDecoder().decode(js.bytes)).toMatch(/"op":\s*"ExpandDims"/);
    expect(new TextDecoder().decode(js.bytes)).toMatch(/"op":\s*"Prod"/);
    const gm = await loadWrittenGraphModel({ json: js.bytes, sidecars: js.sidecars });
    const [y] = await runGraphModel(gm, [npy('unsqueeze', 'v')]);
    expect(y!.shape).toEqual(want.shape);
    expect(maxAbsDiff(y!.toFloat32(), want.toFloat32())).toBe(0);
  });
});

// ONNX RoiAlign mode max, and sampling_ratio 0 (adaptive) of either mode, in the GraphDef / TF.js graph
// writers (src/formats/tensorflow/write-roi-align.ts: each sample's four corner taps read with
// GatherNd and weighted, Maximum / sum over the four, Max / mean over each bin's grid; sampling_ratio
// 0 lays the grid out to the largest box's and leaves each box's extra samples out), run by TF.js 4.9
// against onnxruntime-node on the same ONNX node (scripts/fixtures/roi_align_max_models.py:
// half_pixel / output_half_pixel, sampling_ratio 1 / 2 / 0, opset 10; 15 boxes, most of them at or
// beyond the map's edges, one inverted) and, for the adaptive avg nets, against
// torchvision.ops.roi_align (sampling_ratio -1). Also: a map of run-time height / width (read from its
// Shape), no boxes at all, and the .pb read back by nnport's TF reader. Refused by name: a map of
// run-time channels.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel, run } from '../../../src/index.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import type { GraphModel } from '../../../src/formats/model.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { loadWrittenGraphModel, runGraphModel } from '../tfjs/graph-oracle.js';

const NETS = [
  'half_pixel_sr1', 'half_pixel_sr2', 'output_half_pixel_sr1', 'output_half_pixel_sr2', 'opset10_sr2',
  'adaptive_max_half_pixel', 'adaptive_max_output_half_pixel', 'adaptive_avg_half_pixel', 'adaptive_avg_output_half_pixel',
] as const;
const NAMES = ['x', 'rois', 'batch_indices'];
let dir = '';

beforeAll(async () => {
  await initKernels();
  dir = ensureScriptFixtures('roi_align_max_models.py', 'roi-align-max', NETS);
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const onnxBytes = (net: string) => new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));
const modelOf = async (net: string): Promise<GraphModel> => (await loadModel(onnxBytes(net), { fileName: `${net}.onnx` })) as GraphModel;

/** The TF.js graph model written from `model`, run on `feeds` (x, rois, batch_indices). */
async function runTfjs(model: GraphModel, feeds: Record<string, Tensor>): Promise<{ y: Tensor; json: string }> {
  const js = await convert(model, 'web/model.json', { tfjsFormat: 'graph' });
  const json = new TextDecoder().decode(js.bytes);
  const gm = await loadWrittenGraphModel({ json: js.bytes, sidecars: js.sidecars });
  const order = gm.inputs.map((i) => NAMES.find((n) => i.name === n || i.name.startsWith(`${n}:`))!);
  const [y] = await runGraphModel(gm, order.map((n) => feeds[n]!));
  return { y: y!, json };
}

describe('ONNX RoiAlign mode max / sampling_ratio 0 in a TF.js graph model vs onnxruntime-node', () => {
  const runTimeMaps = ['half_pixel_sr2', 'output_half_pixel_sr1', 'adaptive_avg_half_pixel', 'adaptive_max_output_half_pixel'] as const;
  for (const [net, dynamic] of [...NETS.map((n) => [n, false] as const), ...runTimeMaps.map((n) => [n, true] as const)]) {
    it(`${net}${dynamic ? ', a map of run-time height / width' : ''}`, async () => {
      const feeds = Object.fromEntries(NAMES.map((n) => [n, npy(net, n)]));
      const want = [...(await ortRun(onnxBytes(net), feeds)).values()][0]!;
      const model = await modelOf(net);
      // (an FPN level behind a computed Resize: H and W known only at run time)
      if (dynamic) model.graph.inputs[0]!.shape = [2, 6, 'H', 'W'];
      const { y, json } = await runTfjs(model, feeds);
      expect(json).toMatch(/"op":\s*"GatherNd"/);
      expect(json).not.toMatch(/CropAndResize/);
      if (dynamic) expect(json).toMatch(/"op":\s*"Shape"/);
      expect(y.shape).toEqual(want.shape);
      const err = maxAbsDiff(y.toFloat32(), want.toFloat32());
      // (torchvision's adaptive avg: onnxruntime's agrees with it, and so must the graph model)
      const torch = net.startsWith('adaptive_avg') ? npy(net, 'output').toFloat32() : undefined;
      const vsTorch = torch ? `; vs torchvision: onnxruntime ${maxAbsDiff(want.toFloat32(), torch).toExponential(2)}, TF.js ${maxAbsDiff(y.toFloat32(), torch).toExponential(2)}` : '';
      console.log(`RoiAlign ${net}${dynamic ? ' (run-time H, W)' : ''}: TF.js graph vs onnxruntime, max abs ${err.toExponential(2)}${vsTorch}`);
      expect(err).toBeLessThan(1e-5);
      if (torch) expect(maxAbsDiff(y.toFloat32(), torch)).toBeLessThan(1e-5);
      expect(want.toFloat32().filter((v) => v !== 0).length).toBeGreaterThan(want.size / 2);
      // (boxes wholly outside give 0, not the map's minimum: every tap weighs 0)
      expect(want.toFloat32().slice(5 * 6 * 12, 6 * 6 * 12).every((v) => v === 0)).toBe(true);
    });
  }

  for (const net of ['half_pixel_sr2', 'adaptive_avg_output_half_pixel', 'adaptive_max_half_pixel'] as const) {
    it(`${net}: no boxes (an empty FPN level), an empty output`, async () => {
      const feeds = { x: npy(net, 'x'), rois: Tensor.float32([0, 4]), batch_indices: Tensor.int64([0], []) };
      const { y } = await runTfjs(await modelOf(net), feeds);
      expect(y.shape).toEqual([0, 6, 3, 4]);
    });
  }

  for (const net of ['output_half_pixel_sr2', 'adaptive_max_half_pixel', 'adaptive_avg_output_half_pixel'] as const) {
    it(`${net}: the .pb read back by nnport's TF reader`, async () => {
      const feeds = Object.fromEntries(NAMES.map((n) => [n, npy(net, n)]));
      const want = [...(await ortRun(onnxBytes(net), feeds)).values()][0]!;
      const { bytes } = await convert(await modelOf(net), 'r.pb');
      const y = [...(await run(await loadModel(bytes, { fileName: 'r.pb' }), feeds)).outputs.values()][0]!;
      expect(y.shape).toEqual(want.shape);
      const err = maxAbsDiff(y.toFloat32(), want.toFloat32());
      console.log(`RoiAlign ${net}: .pb read back vs onnxruntime, max abs ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
    });
  }

  it('refuses a map of run-time channels by name', async () => {
    for (const net of ['half_pixel_sr2', 'adaptive_avg_half_pixel'] as const) {
      const model = await modelOf(net);
      model.graph.inputs[0]!.shape = [2, 'C', 9, 11];
      const err = await convert(model, 'r.pb').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsupportedError);
      expect(String(err)).toMatch(/RoiAlign (mode max|sampling_ratio 0) of a map of run-time channels in a GraphDef/);
    }
  });
});

// ONNX RoiAlign sampling_ratio 0 (adaptive: each box's grid ceil(bin size) per axis) written to
// .tflite (src/formats/tflite/lower-roi-align.ts: the samples laid out on the grid of the largest box,
// a run-time RANGE, each box's samples past its own grid left out before the SUM / REDUCE_MAX, the sum
// divided by the box's own count), run by the real TFLite interpreter against onnxruntime-node on the
// same node (scripts/fixtures/roi_align_max_models.py: modes avg / max, half_pixel / output_half_pixel;
// 15 boxes, most at or beyond the map's edges, one smaller than a pixel, one inverted, which has no
// samples in half_pixel mode) and, for avg, against torchvision.ops.roi_align (sampling_ratio -1).
// The box count is dynamic in the file and set for the run; no boxes at all give an empty output. Also
// between convolutions (a box head as Detectron2's, whose pooler samples adaptively), so the layout pass
// lays the map and the pooled boxes out channels-last around the lowering; and the file read back by
// nnport's TFLite reader and run by its runtime.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel, run } from '../../../src/index.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import type { GraphModel } from '../../../src/formats/model.js';
import { rng } from '../../support/rng.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { tfliteOpNames, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';

const NETS = ['adaptive_avg_half_pixel', 'adaptive_avg_output_half_pixel', 'adaptive_max_half_pixel', 'adaptive_max_output_half_pixel'] as const;
const NAMES = ['x', 'rois', 'batch_indices'];
const C = 6;
const oracle = useTfliteOracle();
let dir = '';

beforeAll(() => {
  dir = ensureScriptFixtures('roi_align_max_models.py', 'roi-align-max', NETS);
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const onnxBytes = (net: string) => new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));
const modelOf = async (net: string): Promise<GraphModel> => (await loadModel(onnxBytes(net), { fileName: `${net}.onnx` })) as GraphModel;

/** The written file run on `feeds`: x fed channels-last where the file wants it, the box count set to K; the output back in (K, C, h, w). */
async function runTflite(net: string, feeds: Record<string, Tensor>, model?: GraphModel, outC = C): Promise<{ y: Tensor; ops: string[] }> {
  const { bytes } = await convert(model ?? (await modelOf(net)), 'roi.tflite', { int32Io: true });
  const ops = tfliteOpNames(bytes, `${net}.tflite`);
  const inputs = await oracle.inputs(bytes);
  const order = inputs.map((i) => NAMES.find((n) => i.name === n || i.name.startsWith(`${n}__`) || i.name.startsWith(`${n}:`))!);
  let file = bytes;
  const fed: ArrayBufferView[] = [];
  order.forEach((n, i) => {
    let t = feeds[n]!;
    if (n !== 'x') file = withStoredDim(file, 0, t.shape[0]!, i);
    else if (inputs[i]!.shape[3] === C) t = permuteTensor(t, [0, 2, 3, 1]);
    fed.push(n === 'batch_indices' ? Int32Array.from(t.toNumbers()) : t.toFloat32());
  });
  const [y] = await oracle.run(file, fed, 1, 1);
  const out = Tensor.float32(y!.shape, y!.data as Float32Array);
  return { y: y!.shape[1] === outC ? out : permuteTensor(out, [0, 3, 1, 2]), ops };
}

describe('ONNX RoiAlign sampling_ratio 0 in .tflite vs onnxruntime-node and torchvision', () => {
  for (const net of NETS) {
    it(`${net}: the interpreter`, { timeout: 120_000 }, async () => {
      const feeds = Object.fromEntries(NAMES.map((n) => [n, npy(net, n)]));
      const want = [...(await ortRun(onnxBytes(net), feeds)).values()][0]!;
      const { y, ops } = await runTflite(net, feeds);
      expect(ops).toContain('GATHER_ND');
      expect(ops).toContain('RANGE');
      expect(y.shape).toEqual(want.shape);
      const err = maxAbsDiff(y.toFloat32(), want.toFloat32());
      // (torchvision's adaptive avg: onnxruntime's agrees with it, and so must the file)
      const torch = net.startsWith('adaptive_avg') ? npy(net, 'output').toFloat32() : undefined;
      const vsTorch = torch ? `; vs torchvision: onnxruntime ${maxAbsDiff(want.toFloat32(), torch).toExponential(2)}, .tflite ${maxAbsDiff(y.toFloat32(), torch).toExponential(2)}` : '';
      console.log(`RoiAlign ${net}: .tflite vs onnxruntime, max abs ${err.toExponential(2)}${vsTorch}`);
      expect(err).toBeLessThanOrEqual(1e-6);
      if (torch) expect(maxAbsDiff(y.toFloat32(), torch)).toBeLessThanOrEqual(1e-6);
      expect(want.toFloat32().filter((v) => v !== 0).length).toBeGreaterThan(want.size / 2);
      // (the box wholly outside the map gives 0; so does the inverted one, which has no samples in half_pixel mode)
      const box = (k: number) => y.toFloat32().slice(k * C * 12, (k + 1) * C * 12);
      expect(box(5).every((v) => v === 0)).toBe(true);
      if (net.endsWith('_half_pixel') && !net.endsWith('output_half_pixel')) expect(box(14).every((v) => v === 0)).toBe(true);
    });
  }

  for (const net of ['adaptive_avg_output_half_pixel', 'adaptive_max_half_pixel'] as const) {
    it(`${net}: no boxes (an empty FPN level), an empty output`, { timeout: 120_000 }, async () => {
      const feeds = { x: npy(net, 'x'), rois: Tensor.float32([0, 4]), batch_indices: Tensor.int64([0], []) };
      const { y } = await runTflite(net, feeds);
      expect(y.shape).toEqual([0, C, 3, 4]);
    });
  }

  it('adaptive_avg_half_pixel: one box, larger than the map (a grid of 7 x 6 samples), vs onnxruntime-node', { timeout: 120_000 }, async () => {
    const net = 'adaptive_avg_half_pixel';
    const feeds = { x: npy(net, 'x'), rois: Tensor.float32([1, 4], [-12, -20, 30, 22]), batch_indices: Tensor.int64([1], [1n]) };
    const want = [...(await ortRun(onnxBytes(net), feeds)).values()][0]!;
    const { y } = await runTflite(net, feeds);
    expect(y.shape).toEqual(want.shape);
    const err = maxAbsDiff(y.toFloat32(), want.toFloat32());
    console.log(`RoiAlign ${net}, one large box: .tflite vs onnxruntime, max abs ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(1e-6);
  });

  /** The net with a 3 x 3 Conv + Relu on the map before the RoiAlign and a 1 x 1 Conv (6 -> 4 channels) on the pooled boxes after. */
  async function betweenConvs(net: string): Promise<GraphModel> {
    const model = await modelOf(net);
    const g = model.graph;
    const r = rng(7);
    const weights = (shape: number[]) => Tensor.float32(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (r() - 0.5) * 0.6));
    g.initializers.set('w1', weights([C, C, 3, 3]));
    g.initializers.set('w2', weights([4, C, 1, 1]));
    g.initializers.set('b2', weights([4]));
    const roi = g.nodes.find((n) => n.opType === 'RoiAlign')!;
    roi.inputs[0] = 'features';
    roi.outputs[0] = 'pooled';
    g.nodes.unshift({ name: 'conv1', opType: 'Conv', domain: '', inputs: ['x', 'w1'], outputs: ['conv1'], attrs: { pads: { type: 'ints', value: [1, 1, 1, 1] } } }, { name: 'relu1', opType: 'Relu', domain: '', inputs: ['conv1'], outputs: ['features'], attrs: {} });
    g.nodes.push({ name: 'conv2', opType: 'Conv', domain: '', inputs: ['pooled', 'w2', 'b2'], outputs: ['y'], attrs: {} });
    g.outputs[0]!.shape = ['K', 4, 3, 4];
    return model;
  }

  for (const [net, boxes] of [['adaptive_avg_half_pixel', 15], ['adaptive_max_output_half_pixel', 15], ['adaptive_avg_output_half_pixel', 0]] as const) {
    it(`${net} between convolutions, ${boxes} boxes: the interpreter vs onnxruntime-node`, { timeout: 120_000 }, async () => {
      const model = await betweenConvs(net);
      const feeds = Object.fromEntries(NAMES.map((n) => [n, npy(net, n)]));
      if (!boxes) Object.assign(feeds, { rois: Tensor.float32([0, 4]), batch_indices: Tensor.int64([0], []) });
      const want = [...(await ortRun(model.graph, feeds)).values()][0]!;
      const { y, ops } = await runTflite(net, feeds, model, 4);
      expect(ops).toContain('CONV_2D');
      expect(y.shape).toEqual(want.shape);
      if (!boxes) return;
      const err = maxAbsDiff(y.toFloat32(), want.toFloat32());
      console.log(`RoiAlign ${net} between convolutions: .tflite vs onnxruntime, max abs ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-6);
    });
  }

  for (const net of ['adaptive_avg_half_pixel', 'adaptive_max_output_half_pixel'] as const) {
    it(`${net}: the .tflite read back by nnport vs onnxruntime-node`, { timeout: 120_000 }, async () => {
      const feeds = Object.fromEntries(NAMES.map((n) => [n, npy(net, n)]));
      const want = [...(await ortRun(onnxBytes(net), feeds)).values()][0]!;
      const { bytes } = await convert(await modelOf(net), 'r.tflite');
      const y = [...(await run(await loadModel(bytes, { fileName: 'r.tflite' }), feeds)).outputs.values()][0]!;
      expect(y.shape).toEqual(want.shape);
      const err = maxAbsDiff(y.toFloat32(), want.toFloat32());
      console.log(`RoiAlign ${net}: .tflite read back vs onnxruntime, max abs ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-6);
    });
  }
});

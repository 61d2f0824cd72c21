// ONNX RoiAlign written to .tflite as GATHER_ND rows of the boxes' sample points and a MEAN /
// REDUCE_MAX over each bin's sr x sr (src/formats/tflite/lower-roi-align.ts), run by the real
// TFLite interpreter against torchvision.ops.roi_align (scripts/fixtures/roi_align_models.py):
// opset-16 nodes with aligned False / True and torchvision's own opset-11 export; 12 boxes, half of
// them partly or wholly outside the map, one smaller than a pixel; the box count is dynamic in the
// file and set to 12 for the run (the interpreter sizes the rest from its ops). Max mode and sampling_ratio 1, which torchvision does not
// have, against onnxruntime-node on the same node (sampling_ratio 0: roi-align-adaptive.test.ts). Refused by
// name: a map of run-time height / width or of over 2^24 positions (its rows are indexed in float32), integer activations.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, loadModel } from '../../../src/index.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import type { GraphModel } from '../../../src/formats/model.js';
import type { Attr, Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { tfliteOpNames, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';

const NETS = ['aligned_false', 'aligned_true', 'exported'] as const;
const oracle = useTfliteOracle();
let dir = '';

beforeAll(() => {
  dir = ensureScriptFixtures('roi_align_models.py', 'roi-align', [...NETS, 'expand', 'scatter', 'unsqueeze']);
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const onnxBytes = (net: string) => new Uint8Array(readFileSync(join(dir, net, 'model.onnx')));
const modelOf = async (net: string): Promise<GraphModel> => (await loadModel(onnxBytes(net), { fileName: `${net}.onnx` })) as GraphModel;
const graphOf = async (net: string): Promise<Graph> => (await modelOf(net)).graph;

/** The written file run on the fixture's inputs: x fed channels-last where the file wants it, the box count set to K; the output back in (K, C, h, w). */
async function runTflite(net: string, model: GraphModel): Promise<Tensor> {
  const names = net === 'exported' ? ['x', 'boxes'] : ['x', 'rois', 'batch_indices'];
  const feeds = Object.fromEntries(names.map((n) => [n, npy(net, n)]));
  const { bytes } = await convert(model, 'roi.tflite', { int32Io: true });
  expect(tfliteOpNames(bytes, `${net}.tflite`)).toContain('GATHER_ND');
  const inputs = await oracle.inputs(bytes);
  const order = inputs.map((i) => names.find((n) => i.name === n || i.name.startsWith(`${n}__`) || i.name.startsWith(`${n}:`))!);
  let file = bytes;
  const fed: ArrayBufferView[] = [];
  order.forEach((n, i) => {
    let t = feeds[n]!;
    if (n !== 'x') file = withStoredDim(file, 0, t.shape[0]!, i);
    else if (inputs[i]!.shape[3] === 8) t = permuteTensor(t, [0, 2, 3, 1]);
    fed.push(n === 'batch_indices' ? Int32Array.from(t.toNumbers()) : t.toFloat32());
  });
  const [y] = await oracle.run(file, fed, 1, 1);
  const out = Tensor.float32(y!.shape, y!.data as Float32Array);
  return y!.shape[1] === 8 ? out : permuteTensor(out, [0, 3, 1, 2]);
}

describe('ONNX RoiAlign in .tflite vs torchvision.ops.roi_align', () => {
  for (const net of NETS) {
    it(`${net}: the interpreter`, { timeout: 120_000 }, async () => {
      const want = npy(net, 'output');
      const y = await runTflite(net, await modelOf(net));
      expect(y.shape).toEqual(want.shape);
      const err = maxAbsDiff(y.toFloat32(), want.toFloat32());
      console.log(`${net} .tflite vs PyTorch, max abs ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
    });
  }

  it('no boxes (an empty FPN level): an empty output', { timeout: 120_000 }, async () => {
    const model = await modelOf('aligned_true');
    const { bytes } = await convert(model, 'roi.tflite', { int32Io: true });
    const inputs = await oracle.inputs(bytes);
    let file = bytes;
    const fed = inputs.map((t, i) => {
      if (t.name.startsWith('x')) return npy('aligned_true', 'x').toFloat32();
      file = withStoredDim(file, 0, 0, i);
      return t.dtype === 'int32' ? new Int32Array(0) : new Float32Array(0);
    });
    const [y] = await oracle.run(file, fed, 1, 1);
    expect(y!.shape[0]).toBe(0);
    expect(y!.data.length).toBe(0);
  });

  for (const [count, dynamicData] of [[4, false], [0, false], [4, true], [0, true]] as const) {
    it(`scatter: MultiScaleRoIAlign's ScatterElements of whole rows at indices of run-time shape, ${count} rows${dynamicData ? ', data of run-time shape' : ''}: the interpreter vs NumPy`, { timeout: 120_000 }, async () => {
      const names = ['data', 'idx', 'shape', 'updates'];
      const feeds = Object.fromEntries(names.map((n) => [n, npy('scatter', n)]));
      let want = npy('scatter', 'output');
      if (count === 0) {
        feeds.idx = new Tensor('int64', [0, 1, 1, 1], new BigInt64Array(0));
        feeds.updates = Tensor.float32([0, 3, 2, 2]);
        feeds.shape = new Tensor('int64', [4], BigInt64Array.from([0n, 3n, 2n, 2n]));
        want = feeds.data!;
      }
      const model = await modelOf('scatter');
      if (dynamicData) model.graph.inputs.find((v) => v.name === 'data')!.shape = ['N', 3, 2, 2];
      const { bytes } = await convert(model, 's.tflite', { int32Io: true });
      const ops = tfliteOpNames(bytes, 'scatter.tflite');
      expect(ops).toContain('SCATTER_ND');
      const inputs = await oracle.inputs(bytes);
      let file = bytes;
      const fed = inputs.map((t, i) => {
        const n = names.find((m) => t.name === m || t.name.startsWith(`${m}__`))!;
        const v = feeds[n]!;
        if (n === 'idx' || n === 'updates' || (n === 'data' && dynamicData)) file = withStoredDim(file, 0, v.shape[0]!, i);
        return t.dtype === 'int32' ? Int32Array.from(v.toNumbers()) : v.toFloat32();
      });
      const [y] = await oracle.run(file, fed, 1, 1);
      expect(y!.shape).toEqual(want.shape);
      expect(maxAbsDiff(y!.data as Float32Array, want.toFloat32())).toBe(0);
    });
  }

  for (const [what, attrs] of [
    ['max mode', { mode: { type: 'string', value: 'max' } }],
    ['sampling_ratio 1, output_half_pixel', { sampling_ratio: { type: 'int', value: 1 }, coordinate_transformation_mode: { type: 'string', value: 'output_half_pixel' } }],
  ] as Array<[string, Record<string, Attr>]>) {
    it(`${what}: the interpreter vs onnxruntime-node`, { timeout: 120_000 }, async () => {
      const model = await modelOf('aligned_true');
      Object.assign(model.graph.nodes.find((n) => n.opType === 'RoiAlign')!.attrs, attrs);
      const want = [...(await ortRun(model.graph, { x: npy('aligned_true', 'x'), rois: npy('aligned_true', 'rois'), batch_indices: npy('aligned_true', 'batch_indices') })).values()][0]!;
      const y = await runTflite('aligned_true', model);
      expect(y.shape).toEqual(want.shape);
      const err = maxAbsDiff(y.toFloat32(), want.toFloat32());
      console.log(`${what} .tflite vs onnxruntime, max abs ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
    });
  }

  it('refuses a map of run-time height / width, one of over 2^24 positions and int8 / int16x8 activations by name', async () => {
    const dynamic = await graphOf('aligned_true');
    dynamic.inputs[0]!.shape = [2, 8, 'H', 'W'];
    const runTime = await writeTflite(dynamic, { fileName: 'r.tflite' }).catch((e: unknown) => e);
    expect(runTime).toBeInstanceOf(UnsupportedError);
    expect(String(runTime)).toMatch(/RoiAlign of a map of run-time channels \/ height \/ width in a TFLite file/);
    const huge = await graphOf('aligned_true');
    huge.inputs[0]!.shape = [2, 8, 3000, 3000];
    const over = await writeTflite(huge, { fileName: 'r.tflite' }).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(UnsupportedError);
    expect(String(over)).toMatch(/RoiAlign of a map of 18000000 positions \(over 2\^24\) in a TFLite file/);
    const x = npy('aligned_true', 'x');
    for (const mode of ['int8', 'int16x8'] as const) {
      const err = await writeTflite(await graphOf('aligned_true'), { fileName: 'r.tflite', quantize: { mode, calibration: [[x]] } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsupportedError);
      expect(String(err)).toMatch(/RoiAlign with (int8|16-bit) activations in a TFLite file.*r\.tflite/);
    }
  });
});

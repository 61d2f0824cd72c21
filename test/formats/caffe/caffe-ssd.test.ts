// Caffe SSD (MobileNet-SSD, corpus prototxt with random weights): PriorBox as constants,
// DetectionOutput lowered to ONNX ops (NonMaxSuppression), against OpenCV dnn's Caffe importer,
// run by nnport's runtime and by onnxruntime on the written .onnx.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCaffePrototxt } from '../../../src/formats/caffe/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { convert } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { channelsLastPerm, permuteTensor } from '../../../src/passes/layout.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { pathFiles, relativeError, type OpenCvReference } from './opencv.js';
import { caffeOrdered, expectSameDetections, MOBILENET_SSD_HEADS, mobilenetSsdReference, onnxRows, rowsOf } from './ssd-nets.js';

const oracle = useTfliteOracle(60_000);

const HEADS = MOBILENET_SSD_HEADS;

describe('MobileNet-SSD (Caffe, random weights) vs OpenCV dnn', () => {
  let p: string;
  let ref: OpenCvReference;
  let graph: Graph;
  beforeAll(async () => {
    ({ path: p, ref } = await mobilenetSsdReference());
    graph = (await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, ref.weights!) })).graph;
  }, 300_000);

  it('reads with the detections as its one output', () => {
    expect(graph.outputs.map((o) => [o.name, o.shape])).toEqual([['detection_out', [1, 1, 'detections', 7]]]);
    expect(graph.nodes.filter((n) => n.opType === 'NonMaxSuppression')).toHaveLength(1);
  });

  it('--outputs mbox_loc, mbox_conf_flatten, mbox_priorbox: the heads match OpenCV', async () => {
    const cut = (await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, ref.weights!), outputs: HEADS })).graph;
    expect(cut.outputs.map((o) => o.name)).toEqual(HEADS);
    expect(cut.nodes.some((n) => n.opType === 'NonMaxSuppression')).toBe(false);
    const got = (await runGraph(cut, { data: ref.input })).outputs;
    for (const h of HEADS) {
      const want = ref.layers!.get(h)!;
      const t = got.get(h)!;
      expect(t.shape, h).toEqual(want.shape);
      expect(relativeError(t, want), h).toBeLessThanOrEqual(h === 'mbox_priorbox' ? 1e-6 : 1e-5);
    }
  }, 120_000);

  it('detection_out: nnport runtime and onnxruntime give OpenCV detections', async () => {
    const wantOut = ref.outputs.get('detection_out')!;
    const want = rowsOf(wantOut.data as Float32Array, wantOut.shape);
    // enough confident detections that keep_top_k (100) cuts across classes
    expect(want.length).toBe(100);
    expect(new Set(want.map((r) => r[1])).size).toBeGreaterThan(3);
    const out = (await runGraph(graph, { data: ref.input })).outputs.get('detection_out')!;
    const got = rowsOf(out.data as Float32Array, out.shape);
    // nnport keeps Caffe's row order (OpenCV's differs)
    expect(caffeOrdered(got), "Caffe's row order: by label, then score").toBe(true);
    expectSameDetections(got, want, 'nnport');
    expectSameDetections(await onnxRows(graph, ref.input), want, 'onnxruntime');
  }, 120_000);

  it('other formats refuse it naming DetectionOutput, with the --outputs that cut it off', async () => {
    for (const out of ['m.h5', 'm.json']) {
      const err = await convert({ kind: 'graph', format: 'caffe-prototxt', graph }, out).catch((e: unknown) => e);
      expect(err, out).toBeInstanceOf(UnsupportedError);
      expect((err as Error).message, out).toMatch(/Caffe DetectionOutput .*layer 'detection_out'.*--outputs mbox_loc,mbox_conf_flatten,mbox_priorbox/);
    }
  });

  it('cut at mbox_loc, mbox_conf_flatten, mbox_priorbox: .tflite run by the TFLite interpreter matches OpenCV', async () => {
    const model = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, ref.weights!), outputs: HEADS });
    const { bytes } = await convert(model, 'mobilenet-ssd.tflite');
    const [inp] = await oracle.inputs(bytes);
    const x = inp!.shape.join() === ref.input.shape.join() ? ref.input : permuteTensor(ref.input, channelsLastPerm(4));
    expect(inp!.shape).toEqual([...x.shape]);
    const outs = await oracle.run(bytes, [x.data as Float32Array]);
    expect(outs).toHaveLength(HEADS.length);
    model.graph.outputs.forEach((o, i) => {
      const want = ref.layers!.get(o.name)!;
      const got = new Tensor('float32', outs[i]!.shape, outs[i]!.data as Float32Array);
      expect(got.shape, o.name).toEqual(want.shape);
      expect(relativeError(got, want), o.name).toBeLessThanOrEqual(1e-4);
    });
  }, 120_000);

  it('CLI: convert to .h5 is refused naming the layer; with --outputs it writes (.tflite)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nnport-ssd-cli-'));
    const err: string[] = [];
    const refused = await main(['convert', p, ref.weights!, '-o', join(dir, 'ssd.h5')], () => {}, (s) => err.push(s));
    expect(refused).not.toBe(0);
    expect(err.join('\n')).toMatch(/unsupported: Caffe DetectionOutput in a keras-h5 file: layer 'detection_out'.*--outputs mbox_loc,mbox_conf_flatten,mbox_priorbox/);
    expect(existsSync(join(dir, 'ssd.h5'))).toBe(false);
    const code = await main(['convert', p, ref.weights!, '-o', join(dir, 'ssd.tflite'), '--outputs', HEADS.join(',')], () => {}, (s) => err.push(s));
    expect(code, err.join('\n')).toBe(0);
    expect(existsSync(join(dir, 'ssd.tflite'))).toBe(true);
  }, 120_000);
});

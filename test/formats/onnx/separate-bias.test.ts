// ONNX files whose conv / dense bias is a separate Add (tf2onnx's and Keras -> ONNX exporters'
// form, and a PyTorch module adding its own bias parameter; test/fixtures/fuse-bias/, made by
// scripts/fixtures/fuse_bias_models.py) converted to every NHWC format: .h5 and model.json run
// by TensorFlow.js, .tflite by the real TFLite interpreter, .pb by OpenCV's TensorFlow importer,
// each against onnxruntime-node running the ONNX file. The Add / Sub of a per-channel constant
// is folded into the layer's bias (Keras has no layer for it; TFLite and TF want it there), and
// an Add that is not one value per channel is left as it was.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeGraphDef } from '../../../src/formats/tensorflow/graph-def.js';
import { compare, convert, loadModel, run } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { flatcJson, opNamesOf, useTfliteOracle } from '../../support/tflite-test.js';
import { predict, randomInput, relError, tfjsModelFromH5, tfjsModelFromJson } from '../keras/tfjs-oracle.js';
import { pythonRun } from '../tensorflow/python-runs.js';
import { runOrt } from './ort-helpers.js';

const DIR = join(REPO_ROOT, 'test/fixtures/fuse-bias');
const oracle = useTfliteOracle();

const nhwc = (t: Tensor): Tensor => (t.rank === 4 ? permuteTensor(t, [0, 2, 3, 1]) : t);

interface Case {
  name: string;
  input: number[];
  /** the number of Add / Sub nodes in the ONNX file that hold a layer's bias */
  biases: number;
}

const CASES: Case[] = [
  // Conv + Add [1,C,1,1]; Add([C,1,1], conv); Conv with bias + Sub; depthwise Conv + Add(scalar)
  { name: 'conv_add', input: [1, 3, 8, 8], biases: 4 },
  // tf2onnx's Dense: MatMul + Add [N] and Add([1,N], matmul), after a Conv + Add
  { name: 'dense_add', input: [1, 3, 6, 6], biases: 3 },
  // ConvTranspose + Add [1,C,1,1]; ConvTranspose with a bias + Add [C,1,1]
  { name: 'convtranspose_add', input: [1, 4, 5, 5], biases: 2 },
  // torch.onnx.export of conv(bias=False) + nn.Parameter(C,1,1) and x @ W + b
  { name: 'torch_bias', input: [1, 3, 6, 6], biases: 2 },
];

async function fixture(name: string, shape: number[]): Promise<{ bytes: Uint8Array; x: Tensor; want: Tensor }> {
  const bytes = new Uint8Array(readFileSync(join(DIR, `${name}.onnx`)));
  const x = randomInput(shape, 11);
  const out = (await runOrt(bytes, { x })).y!;
  const b = out.bytes as Uint8Array;
  const want = new Tensor('float32', [...out.dims], new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice());
  return { bytes, x, want };
}

const opNames = (bytes: Uint8Array, name: string): string[] => {
  const m = flatcJson<{ operator_codes: { builtin_code: string }[]; subgraphs: { operators: { opcode_index: number }[] }[] }>(bytes, name, { defaults: true });
  return opNamesOf(m);
};

describe('a separate bias Add folded for the NHWC writers, run by the real frameworks vs onnxruntime-node', () => {
  for (const c of CASES) {
    it(`${c.name}: .h5 and model.json (TF.js), .tflite (interpreter), .pb (OpenCV) within 1e-5 relative`, async () => {
      const f = await fixture(c.name, c.input);
      const model = await loadModel(f.bytes, { fileName: `${c.name}.onnx` });
      const adds = model.kind === 'graph' ? model.graph.nodes.filter((n) => n.opType === 'Add' || n.opType === 'Sub').length : -1;
      expect(adds).toBe(c.biases);
      const want = nhwc(f.want);
      const xs = [nhwc(f.x)];

      const h5 = await convert(model, `${c.name}.h5`);
      expect(h5.notes).toContain(`${c.biases} bias Add/Sub node(s) folded into the conv or dense layer before them`);
      const keras = await tfjsModelFromH5(h5.bytes);
      const classes = keras.layers.map((l) => l.getClassName());
      expect(classes.filter((k) => k === 'Add' || k === 'Subtract' || k === 'Rescaling')).toEqual([]);
      const fromH5 = predict(keras, xs)[0]!;
      expect(fromH5.shape).toEqual(want.shape);
      expect(relError(fromH5, want)).toBeLessThanOrEqual(1e-5);

      const js = await convert(model, `${c.name}/model.json`);
      const fromJs = predict(await tfjsModelFromJson(js.bytes, (p) => js.sidecars.get(p)!), xs)[0]!;
      expect(relError(fromJs, want)).toBeLessThanOrEqual(1e-5);

      const tfl = await convert(model, `${c.name}.tflite`);
      const ops = opNames(tfl.bytes, c.name);
      expect(ops.filter((o) => o === 'ADD' || o === 'SUB')).toEqual([]);
      // a RELU stays its own op after TRANSPOSE_CONV, whose fused activation this interpreter ignores
      if (c.name === 'convtranspose_add') expect(ops).toEqual(['TRANSPOSE_CONV', 'RELU', 'TRANSPOSE_CONV']);
      const [y] = await oracle.run(tfl.bytes, [xs[0]!.toFloat32()]);
      expect(y!.shape).toEqual(want.shape);
      expect(relError(Tensor.float32(y!.shape, y!.data as Float32Array), want)).toBeLessThanOrEqual(1e-5);

      const pb = await convert(model, `${c.name}.pb`);
      const tfOps = decodeGraphDef(pb.bytes, `${c.name}.pb`).node!.map((n) => n.op);
      expect(tfOps.filter((o) => o === 'BiasAdd')).toHaveLength(c.biases);
      expect(tfOps.filter((o) => o === 'Add' || o === 'AddV2' || o === 'Sub')).toEqual([]);
      const fromPb = pythonRun('opencv', `fuse-bias-${c.name}`, pb.bytes, xs[0]!, ['y']).get('y')!;
      expect(fromPb.shape).toEqual(want.shape);
      expect(relError(fromPb, want)).toBeLessThanOrEqual(1e-5);
    });
  }

  it('compare --layers pairs a Keras conv layer with the ONNX value after its bias Add (the layer holds the bias)', async () => {
    const f = await fixture('conv_add', [1, 3, 8, 8]);
    const model = await loadModel(f.bytes, { fileName: 'conv_add.onnx' });
    const h5 = await convert(model, 'conv_add.h5');
    const r = await compare(model, await loadModel(h5.bytes, { fileName: 'conv_add.h5' }), { x: f.x }, { layers: true });
    const convs = r.layers!.filter((d) => d.name.startsWith('Conv_')).map((d) => d.name.split(' [')[0]);
    expect(convs).toEqual(['Conv_1 ~ add_2', 'Conv_4 ~ add_5', 'Conv_7 ~ sub_8', 'Conv_9 ~ add_10']);
    for (const d of r.layers!) expect(d.maxRel, d.name).toBeLessThan(1e-5);
  });

  it('full_add: an Add of a full [1,C,H,W] constant is not folded: Keras writes it as a Normalization over every axis (TF.js has none: refused by name), .tflite keeps its ADD and runs', async () => {
    const f = await fixture('full_add', [1, 3, 6, 6]);
    const model = await loadModel(f.bytes, { fileName: 'full_add.onnx' });
    const h5 = await convert(model, 'full_add.h5');
    expect(new TextDecoder('latin1').decode(h5.bytes)).toMatch(/"class_name": ?"Normalization"/);
    // TF.js cannot build it: nnport's Keras reader runs the .h5 (its Normalization row, not the writer's path) vs onnxruntime
    const back = await loadModel(h5.bytes, { fileName: 'full_add.h5' });
    if (back.kind !== 'graph') throw new Error('not a graph');
    const got = (await run(back, { [back.graph.inputs[0]!.name]: nhwc(f.x) })).outputs.get(back.graph.outputs[0]!.name)!;
    expect(relError(got, nhwc(f.want))).toBeLessThanOrEqual(1e-5);
    await expect(convert(model, 'full_add/model.json')).rejects.toThrow(/Normalization .* in a TF\.js layers model/);
    const tfl = await convert(model, 'full_add.tflite');
    // (the RELU is the ADD's fused activation)
    expect(opNames(tfl.bytes, 'full_add')).toEqual(['CONV_2D', 'ADD']);
    const [y] = await oracle.run(tfl.bytes, [nhwc(f.x).toFloat32()]);
    expect(relError(Tensor.float32(y!.shape, y!.data as Float32Array), nhwc(f.want))).toBeLessThanOrEqual(1e-5);
  });
});

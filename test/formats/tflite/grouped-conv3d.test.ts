// Grouped and depthwise 3-D convolutions in .tflite files (src/formats/tflite/lower-grouped-conv3d.ts):
// TFLite's CONV_3D has no groups and TFLite has no depthwise 3-D conv, so a depthwise Conv3d is written as
// one DEPTHWISE_CONV_2D per temporal tap over the frames as a batch of images, summed, and another grouped
// one as a CONV_3D per group, concatenated. PyTorch Conv3d layers (scripts/fixtures/grouped_conv3d_models.py:
// MViT-v2's q / k / v pooling conv, a channel multiplier of 2 with a temporal stride, dilated temporal taps,
// groups=4, an X3D bottleneck) and torchvision's MViT (the sweep's mvit_tiny, mvit_v2_s's blocks) are
// converted and run by the real TFLite interpreter against PyTorch's outputs. CONV_3D runs float32 only, so
// with integer activations every 3-D conv becomes 2-D conv taps: the X3D block (and int16x8), the depthwise
// and the grouped conv as int8 (calibrated on a few samples), and the MViT as int8 (its MatMuls by constant
// batches of matrices, the relative position Einsums, int8 x int8 BATCH_MATMUL), against the float file in the
// interpreter, and nnport's integer runtime against the interpreter.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Attr, Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { pooledSnrDb, relErr } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortFirst } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { flatcJson, integerRuntimeLsbOff, opNameOf, opNamesOf, tfliteOpNames, useTfliteOracle, type FlatcOps } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const NETS = ['dw3d', 'dw3d_mult2', 'dw3d_dilated', 'grouped3d', 'x3d_block'] as const;
let cache = '';
let sweep = '';

beforeAll(() => {
  cache = ensureScriptFixtures('grouped_conv3d_models.py', 'grouped-conv3d', NETS);
  sweep = ensureScriptFixtures('torchvision_sweep.py', 'torchvision-sweep', ['mvit_tiny']);
}, 300_000);

/** the .tflite takes and gives the video channels-last (N, T, H, W, C); logits as they are */
const ndhwc = (t: Tensor): Tensor => (t.rank === 5 ? permuteTensor(t, [0, 2, 3, 4, 1]) : t);

async function net(name: string, dir = cache): Promise<{ graph: Graph; x: Tensor; y: Tensor }> {
  const model = await loadModel(new Uint8Array(readFileSync(join(dir, name, 'model.onnx'))), { fileName: `${name}.onnx` });
  const npy = (f: string) => ndhwc(readNpy(new Uint8Array(readFileSync(join(dir, name, f))), f));
  return { graph: (model as { graph: Graph }).graph, x: npy('input.npy'), y: npy('output.npy') };
}

/** the TFLite ops each net is written as (a tap that reads only padding is left out: none here) */
const OPS: Record<(typeof NETS)[number], Record<string, number>> = {
  dw3d: { DEPTHWISE_CONV_2D: 3, CONV_3D: 0 },
  dw3d_mult2: { DEPTHWISE_CONV_2D: 3, CONV_3D: 0 },
  dw3d_dilated: { DEPTHWISE_CONV_2D: 3, CONV_3D: 0 },
  grouped3d: { DEPTHWISE_CONV_2D: 0, CONV_3D: 4 },
  // the two 1x1x1 convs stay CONV_3D
  x3d_block: { DEPTHWISE_CONV_2D: 3, CONV_3D: 2 },
};

describe('grouped and depthwise Conv3d in a .tflite file: the interpreter against PyTorch', () => {
  for (const name of NETS) {
    it(`${name}: float32, written with ${Object.entries(OPS[name]).map(([k, v]) => `${v} ${k}`).join(', ')}`, async () => {
      const { graph, x, y } = await net(name);
      const bytes = await writeTflite(graph, { fileName: `${name}.tflite` });
      const ops = tfliteOpNames(bytes, name);
      for (const [op, count] of Object.entries(OPS[name])) expect(ops.filter((o) => o === op).length, op).toBe(count);
      const [out] = await oracle.run(bytes, [x.toFloat32()]);
      const err = relErr(out!.data as Float32Array, y.toFloat32());
      console.log(`${name}: interpreter vs PyTorch ${err.toExponential(2)} (relative to the largest output)`);
      expect(err).toBeLessThanOrEqual(1e-4);
    });
  }

  it('torchvision MViT (mvit_v2_s blocks, the sweep\'s mvit_tiny): its q / k / v pooling convs as DEPTHWISE_CONV_2D taps, float32', { timeout: 120_000 }, async () => {
    const { x, y: want } = await net('mvit_tiny', sweep);
    // (convert: its pooling's sequences, SequenceEmpty / ConcatFromSequence, made straight-line first)
    const model = await loadModel(new Uint8Array(readFileSync(join(sweep, 'mvit_tiny', 'model.onnx'))), { fileName: 'mvit_tiny.onnx' });
    const { bytes } = await convert(model, 'mvit_tiny.tflite');
    const ops = tfliteOpNames(bytes, 'mvit_tiny');
    console.log(`mvit_tiny: ${ops.filter((o) => o === 'DEPTHWISE_CONV_2D').length} DEPTHWISE_CONV_2D, ${ops.filter((o) => o === 'CONV_3D').length} CONV_3D, ${ops.length} ops`);
    expect(ops.filter((o) => o === 'DEPTHWISE_CONV_2D').length).toBeGreaterThan(0);
    const [out] = await oracle.run(bytes, [x.toFloat32()]);
    const err = relErr(out!.data as Float32Array, want.toFloat32());
    console.log(`mvit_tiny: interpreter vs PyTorch ${err.toExponential(2)} (relative to the largest logit)`);
    expect(err).toBeLessThanOrEqual(1e-4);
  });
});

/** N(0, 1) samples (Box-Muller), as PyTorch's inputs are drawn */
/** The quantized file against the float one in the interpreter on `held` (pooled SNR), and nnport's integer runtime against the interpreter (LSB). */
async function againstFloat(float: Uint8Array, bytes: Uint8Array, held: Tensor[]): Promise<{ snr: number; lsb: number }> {
  const want: Float32Array[] = [];
  const got: Float32Array[] = [];
  let lsb = 0;
  for (const t of held) {
    const [f] = await oracle.run(float, [t.toFloat32()]);
    const [q] = await oracle.run(bytes, [t.toFloat32()]);
    want.push(f!.data as Float32Array);
    got.push(q!.data as Float32Array);
    lsb = Math.max(lsb, await integerRuntimeLsbOff(bytes, t, q!.data as Float32Array, { requantization: 'xnnpack' }));
  }
  return { snr: pooledSnrDb(want, got), lsb };
}

function normalSamples(shape: number[], count: number, seed: number): Tensor[] {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => Tensor.float32(shape, Float32Array.from({ length: size }, () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()))));
}

describe('int8 / int16x8: the lowered 3-D convs as integer DEPTHWISE_CONV_2D / CONV_2D taps (CONV_3D is float32 only)', () => {
  for (const [name, mode] of [['x3d_block', 'int8'], ['dw3d', 'int8'], ['grouped3d', 'int8'], ['dw3d_mult2', 'int8'], ['x3d_block', 'int16x8']] as const) {
    it(`${name}: ${mode} from 8 calibration samples, against the float file in the interpreter; nnport's integer runtime within 1 LSB of the interpreter`, { timeout: 120_000 }, async () => {
      const { graph, x } = await net(name);
      const calibration = normalSamples(x.shape as number[], 8, 3).map((t) => [t]);
      const bytes = await writeTflite(graph, { fileName: `${name}.tflite`, quantize: { mode, calibration } });
      const ops = tfliteOpNames(bytes, name);
      expect(ops).not.toContain('CONV_3D');
      // float in and out: one DEQUANTIZE, of the output; integer in between (the groups' int8 -> int8 QUANTIZEs
      // onto the CONCATENATION's parameters, as TF's converter writes them)
      expect(ops.filter((o) => o === 'DEQUANTIZE')).toHaveLength(1);
      const float = await writeTflite(graph, { fileName: `${name}.tflite` });
      const { snr, lsb } = await againstFloat(float, bytes, [x, ...normalSamples(x.shape as number[], 2, 17)]);
      console.log(`${name} ${mode} (${ops.length} ops): ${snr.toFixed(1)} dB from the float file in the interpreter; integer runtime (xnnpack) ${lsb.toFixed(3)} LSB off the interpreter`);
      // (int16x8: its weights are int8 still, which bound it)
      expect(snr).toBeGreaterThan(mode === 'int8' ? 25 : 40);
      expect(lsb).toBeLessThanOrEqual(1.0001);
    });
  }
});

describe('int8 torchvision MViT (the sweep\'s mvit_tiny): its batched MatMuls by constants (the relative position Einsums) as int8 x int8 BATCH_MATMUL', () => {
  it('from 8 calibration samples: loads and runs in the interpreter against the float file; nnport\'s integer runtime within 1 LSB of the interpreter', { timeout: 300_000 }, async () => {
    const { x } = await net('mvit_tiny', sweep);
    const model = await loadModel(new Uint8Array(readFileSync(join(sweep, 'mvit_tiny', 'model.onnx'))), { fileName: 'mvit_tiny.onnx' });
    const calibration = normalSamples(x.shape as number[], 8, 3).map((t) => [t]);
    const { bytes } = await convert(model, 'mvit_tiny.tflite', { quantize: { mode: 'int8', calibration } });
    const json = flatcJson<FlatcOps<{ inputs: number[] }, { tensors: { type?: string }[] }>>(bytes, 'mvit_tiny');
    const sub = json.subgraphs[0]!;
    const bmm = sub.operators.filter((o) => opNameOf(json, o) === 'BATCH_MATMUL');
    // every BATCH_MATMUL reads two int8 operands (a float constant beside int8 data: "Can't initialize model")
    expect(bmm.length).toBeGreaterThan(0);
    for (const o of bmm) expect(o.inputs.map((i) => sub.tensors[i]!.type ?? 'FLOAT32')).toEqual(['INT8', 'INT8']);
    expect(opNamesOf(json)).not.toContain('CONV_3D');
    const { bytes: float } = await convert(model, 'mvit_tiny.tflite');
    const { snr, lsb } = await againstFloat(float, bytes, [x, ...normalSamples(x.shape as number[], 2, 17)]);
    console.log(`mvit_tiny int8 (${bmm.length} BATCH_MATMUL, ${sub.operators.length} ops): ${snr.toFixed(1)} dB from the float file in the interpreter; integer runtime (xnnpack) ${lsb.toFixed(3)} LSB off the interpreter`);
    // (measured 24.3 dB: a random-init transformer, its error spread over the layers, none far below the rest)
    expect(snr).toBeGreaterThan(20);
    expect(lsb).toBeLessThanOrEqual(1.0001);
  });
});

/** One depthwise ONNX Conv over NCDHW `input` (group = channels), weights and bias from a seed. */
function depthwiseConv3d(input: number[], multiplier: number, kernel: number[], attrs: Record<string, Attr>, seed: number): Graph {
  const r = rng(seed);
  const c = input[1]!;
  const w = Tensor.float32([c * multiplier, 1, ...kernel], Float32Array.from({ length: c * multiplier * kernel.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1));
  const b = Tensor.float32([c * multiplier], Float32Array.from({ length: c * multiplier }, () => r() * 2 - 1));
  return {
    name: 'dw3d',
    nodes: [{ name: 'conv', domain: '', opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { group: { type: 'int', value: c }, kernel_shape: { type: 'ints', value: kernel }, ...attrs } }],
    inputs: [{ name: 'x', dtype: 'float32', shape: input }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map([['w', w], ['b', b]]),
    opsets: { '': 13 },
  };
}

const ints = (value: number[]): Attr => ({ type: 'ints', value });

describe('depthwise Conv3d padding the PyTorch fixtures do not have: the interpreter against onnxruntime', () => {
  const cases: Array<{ name: string; graph: Graph; taps: number }> = [
    { name: 'auto_pad SAME_UPPER, kernel (2, 3, 3), strides (2, 2, 1)', graph: depthwiseConv3d([1, 6, 5, 7, 6], 1, [2, 3, 3], { auto_pad: { type: 'string', value: 'SAME_UPPER' }, strides: ints([2, 2, 1]) }, 31), taps: 2 },
    { name: 'auto_pad SAME_LOWER, channel multiplier 2, kernel (3, 2, 3), strides (2, 1, 2)', graph: depthwiseConv3d([1, 4, 6, 5, 7], 2, [3, 2, 3], { auto_pad: { type: 'string', value: 'SAME_LOWER' }, strides: ints([2, 1, 2]) }, 32), taps: 3 },
    // (these pads reach the lowering as an explicit PAD of the input, one PAD in the file: the tap over the two
    // padding frames reads the padded input's frames, and is kept)
    { name: 'asymmetric pads (2, 0, 1 | 0, 1, 2), temporal dilation 2, kernel (3, 1, 3)', graph: depthwiseConv3d([1, 3, 4, 4, 5], 1, [3, 1, 3], { pads: ints([2, 0, 1, 0, 1, 2]), dilations: ints([2, 1, 1]) }, 33), taps: 3 },
    // a 3-frame kernel over one frame: the two taps that read only padding are left out
    { name: 'one frame, kernel 3, padding 1: one tap', graph: depthwiseConv3d([1, 5, 1, 6, 6], 1, [3, 3, 3], { pads: ints([1, 1, 1, 1, 1, 1]) }, 34), taps: 1 },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.taps} DEPTHWISE_CONV_2D`, async () => {
      const onnx = writeOnnx(c.graph);
      const { bytes } = await convert(await loadModel(onnx, { fileName: 'dw3d.onnx' }), 'dw3d.tflite');
      expect(tfliteOpNames(bytes, 'dw3d').filter((o) => o === 'DEPTHWISE_CONV_2D')).toHaveLength(c.taps);
      const x = normalSamples(c.graph.inputs[0]!.shape as number[], 1, 41)[0]!;
      const want = ndhwc(await ortFirst(onnx, [x]));
      const [out] = await oracle.run(bytes, [ndhwc(x).toFloat32()]);
      expect(out!.shape).toEqual(want.shape);
      const err = relErr(out!.data as Float32Array, want.toFloat32());
      console.log(`${c.name}: interpreter vs onnxruntime ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-5);
    });
  }
});

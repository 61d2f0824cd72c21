// Dynamic-range quantization laid out as TF's converter emits it (Optimize.DEFAULT, no dataset),
// checked in the file (flatc with the schema) and run by the real TFLite interpreter against the
// float file or PyTorch: conv / depthwise weights int8 per output channel read by the hybrid
// kernels, FULLY_CONNECTED int8 per tensor with asymmetric_quantize_inputs, TRANSPOSE_CONV's int8
// weights behind a DEQUANTIZE (float compute), weights under 1024 elements float; per-channel
// FULLY_CONNECTED weights (a model read with them) behind a DEQUANTIZE, since the interpreter's
// hybrid FULLY_CONNECTED takes one scale; GATHER tables int8 per tensor behind a DEQUANTIZE and
// rank-3 BATCH_MATMUL constants int8 per tensor read by the hybrid BATCH_MATMUL (TF's MLIR
// dynamic-range quantizer, tests/quantize-dynamic-range.mlir). The options: weight-only (every
// int8 weight behind a DEQUANTIZE, float kernels: TF's weight-only quantization) and minElements
// (TF's minimum_elements_for_weights), through the library and the CLI, and the random-init
// torchvision nets that miss 5e-2 in TF's layout meeting it with them. nnport reads each layout
// back and computes what the interpreter computes: float kernels for weight-only, the hybrid
// kernels' int8 input rounding for hybrid ops (hybrid-inputs.test.ts checks those in depth).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readModel } from '../../../src/formats/registry.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { prepareForTflite, serializeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { quantizeGraph, type QuantizeOptions } from '../../../src/passes/quantize.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { relErr } from '../../support/error-metrics.js';
import { torchvisionDir } from '../../support/torchvision-fixtures.js';
import { flatcJson, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const tmp = mkdtempSync(join(tmpdir(), 'nnport-dynamic-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

let seed = 7;
const rand = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5;
const randomTensor = (shape: number[], scale: number): Tensor => {
  const t = Tensor.float32(shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = rand() * scale;
  return t;
};
const node = (opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name: outputs[0]!, opType, domain: '', inputs, outputs, attrs });
const ints = (value: number[]) => ({ type: 'ints' as const, value });
const int = (value: number) => ({ type: 'int' as const, value });

/** NCHW ONNX: conv 16->32 (4608 weights), depthwise x4 (1152), 1x1 conv 128->4 (512: stays float), transposed conv 4->64 (1024), pool, dense 64->32 (2048). */
function model(): Graph {
  const init = new Map<string, Tensor>([
    ['w1', randomTensor([32, 16, 3, 3], 0.3)],
    ['b1', randomTensor([32], 0.1)],
    ['wd', randomTensor([128, 1, 3, 3], 0.6)],
    ['bd', randomTensor([128], 0.1)],
    ['ws', randomTensor([4, 128, 1, 1], 0.2)],
    ['wt', randomTensor([4, 64, 2, 2], 0.5)],
    ['bt', randomTensor([64], 0.1)],
    ['wf', randomTensor([32, 64], 0.4)],
    ['bf', randomTensor([32], 0.1)],
  ]);
  return {
    name: 'dynamic',
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 16, 8, 8] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 32] }],
    initializers: init,
    opsets: { '': 17 },
    nodes: [
      node('Conv', ['x', 'w1', 'b1'], ['c1'], { pads: ints([1, 1, 1, 1]) }),
      node('Relu', ['c1'], ['r1']),
      node('Conv', ['r1', 'wd', 'bd'], ['cd'], { pads: ints([1, 1, 1, 1]), group: int(32) }),
      node('Relu', ['cd'], ['rd']),
      node('Conv', ['rd', 'ws'], ['cs']),
      node('ConvTranspose', ['cs', 'wt', 'bt'], ['ct'], { strides: ints([2, 2]) }),
      node('Relu', ['ct'], ['rt']),
      node('GlobalAveragePool', ['rt'], ['p']),
      node('Flatten', ['p'], ['f']),
      node('Gemm', ['f', 'wf', 'bf'], ['y'], { transB: int(1) }),
    ],
  };
}

interface FlatcTensor {
  name: string;
  type: string;
  buffer: number;
  quantization?: { scale?: number[]; quantized_dimension?: number };
}
interface FlatcModel {
  operator_codes: { builtin_code: string }[];
  subgraphs: { tensors: FlatcTensor[]; operators: { opcode_index: number; inputs: number[]; outputs: number[]; builtin_options?: Record<string, unknown> }[] }[];
}

function opsOf(m: FlatcModel) {
  const sg = m.subgraphs[0]!;
  return sg.operators.map((o) => ({ code: m.operator_codes[o.opcode_index]!.builtin_code, inputs: o.inputs.map((i) => sg.tensors[i]!), outputs: o.outputs.map((i) => sg.tensors[i]!), options: o.builtin_options ?? {} }));
}

describe('dynamic-range TFLite as TF emits it, run by the interpreter', () => {
  it('hybrid conv / depthwise / dense, weight-only transposed conv, small weights float', async () => {
    const g = await prepareForTflite(model());
    const x = randomTensor([1, 8, 8, 16], 2);
    const float = serializeTflite(g);
    const q = (await quantizeGraph(g, { mode: 'dynamic' })).graph;
    const dynamic = serializeTflite(q);
    const ops = opsOf(flatcJson<FlatcModel>(dynamic, 'dynamic', { defaults: true }));
    const one = (code: string) => {
      const found = ops.filter((o) => o.code === code);
      expect({ code, count: found.length }).toEqual({ code, count: code === 'CONV_2D' ? 2 : 1 });
      return found;
    };
    const [conv, small] = one('CONV_2D');
    // hybrid conv: int8 weights per output channel (OHWI axis 0), float activations
    expect([conv!.inputs[0]!.type, conv!.inputs[1]!.type, conv!.inputs[1]!.quantization!.scale!.length, conv!.inputs[1]!.quantization!.quantized_dimension]).toEqual(['FLOAT32', 'INT8', 32, 0]);
    // 512 weights: under TF's 1024-element minimum, float
    expect(small!.inputs[1]!.type).toBe('FLOAT32');
    const [dw] = one('DEPTHWISE_CONV_2D');
    expect([dw!.inputs[0]!.type, dw!.inputs[1]!.type, dw!.inputs[1]!.quantization!.scale!.length, dw!.inputs[1]!.quantization!.quantized_dimension]).toEqual(['FLOAT32', 'INT8', 128, 3]);
    const [fc] = one('FULLY_CONNECTED');
    expect([fc!.inputs[1]!.type, fc!.inputs[1]!.quantization!.scale!.length, fc!.options.asymmetric_quantize_inputs]).toEqual(['INT8', 1, true]);
    // TRANSPOSE_CONV reads float weights that a DEQUANTIZE makes from int8 per-channel ones
    const [tconv] = one('TRANSPOSE_CONV');
    const [deq] = one('DEQUANTIZE');
    expect(tconv!.inputs[1]!.name).toBe(deq!.outputs[0]!.name);
    expect([deq!.inputs[0]!.type, deq!.inputs[0]!.quantization!.scale!.length, deq!.inputs[0]!.quantization!.quantized_dimension, tconv!.inputs[1]!.type]).toEqual(['INT8', 64, 0, 'FLOAT32']);

    const want = (await oracle.run(float, [x.data as Float32Array]))[0]!.data as Float32Array;
    const got = (await oracle.run(dynamic, [x.data as Float32Array]))[0]!.data as Float32Array;
    const err = relErr(got, want);
    console.log(`dynamic vs float: ${err.toExponential(2)}`);
    // int8 weights and the hybrid kernels' on-the-fly int8 activations: measured 4.5e-3
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThanOrEqual(1e-2);
    // nnport's runtime on the quantized graph before writing (its nnport::HybridInputQuantize
    // markers say which ops are hybrid) computes the file as the read-back does
    const inMemory = (await runGraph(q, { [q.inputs[0]!.name]: x })).outputs.get(q.outputs[0]!.name)!.toFloat32();
    const readBack = await nnportRun(dynamic, x);
    console.log(`dynamic, nnport vs interpreter: in-memory graph ${relErr(inMemory, got).toExponential(2)}, read back ${relErr(readBack, got).toExponential(2)}`);
    expect(relErr(inMemory, got)).toBeLessThanOrEqual(1e-5);
    expect(relErr(readBack, got)).toBeLessThanOrEqual(1e-5);
  });

  it('per-channel FULLY_CONNECTED weights go through a DEQUANTIZE and compute in float', async () => {
    const w = Int8Array.from({ length: 48 * 40 }, () => Math.round(rand() * 254));
    const scales = Array.from({ length: 48 }, (_, i) => 0.001 * (1 + i));
    const g: Graph = {
      name: 'fc',
      inputs: [{ name: 'x', dtype: 'float32', shape: [1, 40] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [1, 48] }],
      initializers: new Map<string, Tensor>([
        ['w', new Tensor('int8', [48, 40], w)],
        ['w_scale', Tensor.float32([48], scales)],
        ['w_zp', new Tensor('int8', [48], new Int8Array(48))],
        ['wf', new Tensor('float32', [48, 40], Float32Array.from(w, (v, i) => v * scales[Math.floor(i / 40)]!))],
        ['b', randomTensor([48], 0.1)],
      ]),
      opsets: { '': 17 },
      nodes: [node('DequantizeLinear', ['w', 'w_scale', 'w_zp'], ['wq'], { axis: int(0) }), node('Gemm', ['x', 'wq', 'b'], ['y'], { transB: int(1) })],
    };
    const floatGraph: Graph = { ...g, nodes: [node('Gemm', ['x', 'wf', 'b'], ['y'], { transB: int(1) })] };
    const bytes = serializeTflite(await prepareForTflite(g));
    const ops = opsOf(flatcJson<FlatcModel>(bytes, 'fc', { defaults: true }));
    expect(ops.map((o) => o.code)).toEqual(['DEQUANTIZE', 'FULLY_CONNECTED']);
    expect(ops[0]!.inputs[0]!.quantization!.scale!.length).toBe(48);
    const x = randomTensor([1, 40], 4);
    const want = (await oracle.run(serializeTflite(await prepareForTflite(floatGraph)), [x.data as Float32Array]))[0]!.data as Float32Array;
    const got = (await oracle.run(bytes, [x.data as Float32Array]))[0]!.data as Float32Array;
    expect(relErr(got, want)).toBeLessThanOrEqual(1e-6);
  });
});

/** nnport's float runtime on a .tflite read back: its first output for one input. */
async function nnportRun(bytes: Uint8Array, x: Tensor): Promise<Float32Array> {
  const back = await readTflite(bytes);
  const { outputs } = await runGraph(back, { [back.inputs[0]!.name]: x });
  return outputs.get(back.outputs[0]!.name)!.toFloat32();
}

const WEIGHT_ONLY: QuantizeOptions = { mode: 'dynamic', dynamic: 'weight-only' };

describe('dynamic range, weight-only (TF\'s weight-only quantization) and the minimum weight size', () => {
  it('weight-only: every int8 weight behind a DEQUANTIZE, float kernels; nnport reads it back and computes what the interpreter does', async () => {
    const g = await prepareForTflite(model());
    const x = randomTensor([1, 8, 8, 16], 2);
    const q = (await quantizeGraph(g, WEIGHT_ONLY)).graph;
    const bytes = serializeTflite(q, { quantize: WEIGHT_ONLY });
    const ops = opsOf(flatcJson<FlatcModel>(bytes, 'weight-only', { defaults: true }));
    const dequantized = new Set(ops.filter((o) => o.code === 'DEQUANTIZE').map((o) => o.outputs[0]!.name));
    const weighted = ops.filter((o) => ['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'TRANSPOSE_CONV'].includes(o.code));
    expect(weighted.length).toBe(5);
    for (const o of weighted) {
      const w = o.inputs[1]!;
      // every weight is float at the op: from a DEQUANTIZE of int8 or, under 1024 elements, a float constant
      expect({ op: o.code, type: w.type }).toEqual({ op: o.code, type: 'FLOAT32' });
    }
    expect(dequantized.size).toBe(4);
    for (const o of ops.filter((o) => o.code === 'DEQUANTIZE')) expect(o.inputs[0]!.type).toBe('INT8');

    const want = (await oracle.run(serializeTflite(g), [x.data as Float32Array]))[0]!.data as Float32Array;
    const got = (await oracle.run(bytes, [x.data as Float32Array]))[0]!.data as Float32Array;
    const hybrid = (await oracle.run(serializeTflite((await quantizeGraph(g, { mode: 'dynamic' })).graph), [x.data as Float32Array]))[0]!.data as Float32Array;
    console.log(`weight-only vs float: ${relErr(got, want).toExponential(2)}; hybrid ${relErr(hybrid, want).toExponential(2)}`);
    // int8 weights alone: measured 1.8e-3 (hybrid, with its int8 activations: 2.3e-3)
    expect(relErr(got, want)).toBeGreaterThan(0);
    expect(relErr(got, want)).toBeLessThan(relErr(hybrid, want));
    // float kernels on dequantized weights: nnport's runtime on the file read back is the interpreter to float rounding
    expect(relErr(await nnportRun(bytes, x), got)).toBeLessThanOrEqual(1e-5);
  });

  it('minElements: weights under it stay float (TF\'s minimum_elements_for_weights, 1024 by default)', async () => {
    const g = await prepareForTflite(model());
    const types = (minElements?: number) => async () => {
      const bytes = serializeTflite((await quantizeGraph(g, { mode: 'dynamic', minElements })).graph);
      return opsOf(flatcJson<FlatcModel>(bytes, 'min-elements', { defaults: true }))
        .filter((o) => ['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'DEQUANTIZE'].includes(o.code))
        .map((o) => `${o.code} ${o.inputs[o.code === 'DEQUANTIZE' ? 0 : 1]!.type}`);
    };
    // conv 4608, depthwise 1152, 1x1 conv 512, transposed conv 1024 (its DEQUANTIZE), dense 2048 elements
    expect(await types()()).toEqual(['DEQUANTIZE INT8', 'CONV_2D INT8', 'DEPTHWISE_CONV_2D INT8', 'CONV_2D FLOAT32', 'FULLY_CONNECTED INT8']);
    expect(await types(2048)()).toEqual(['CONV_2D INT8', 'DEPTHWISE_CONV_2D FLOAT32', 'CONV_2D FLOAT32', 'FULLY_CONNECTED INT8']);
    expect(await types(4609)()).toEqual(['CONV_2D FLOAT32', 'DEPTHWISE_CONV_2D FLOAT32', 'CONV_2D FLOAT32', 'FULLY_CONNECTED FLOAT32']);
  });
});

describe('dynamic range of embedding tables and batched constants, as TF emits them', () => {
  it('GATHER table int8 behind a DEQUANTIZE, rank-3 BATCH_MATMUL constant hybrid; interpreter vs PyTorch, read back by nnport', async () => {
    const dir = join(REPO_ROOT, 'test/fixtures/dynamic-range/embed_bmm');
    const m = await readModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: 'embed_bmm.onnx' });
    const g = await prepareForTflite((m as { graph: Graph }).graph);
    const ids = readNpy(readFileSync(join(dir, 'input.npy')));
    const want = readNpy(readFileSync(join(dir, 'output.npy'))).toFloat32();
    const q = (await quantizeGraph(g, { mode: 'dynamic' })).graph;
    const bytes = serializeTflite(q);
    const ops = opsOf(flatcJson<FlatcModel>(bytes, 'embed_bmm', { defaults: true }));
    expect(ops.map((o) => o.code)).toEqual(['DEQUANTIZE', 'GATHER', 'TANH', 'BATCH_MATMUL']);
    const [deq, gather, , bmm] = ops;
    // the (200, 32) table: int8, one scale, symmetric; GATHER reads the DEQUANTIZE's float table
    expect([deq!.inputs[0]!.type, deq!.inputs[0]!.quantization!.scale!.length, gather!.inputs[0]!.name]).toEqual(['INT8', 1, deq!.outputs[0]!.name]);
    // the (4, 32, 24) constant: int8, one scale; a hybrid BATCH_MATMUL quantizing its float input per row with a zero point
    expect([bmm!.inputs[0]!.type, bmm!.inputs[1]!.type, bmm!.inputs[1]!.quantization!.scale!.length, bmm!.options.asymmetric_quantize_inputs]).toEqual(['FLOAT32', 'INT8', 1, true]);

    const on = async (b: Uint8Array) => (await oracle.run(b, [ids.data as Int32Array]))[0]!.data as Float32Array;
    const float = relErr(await on(serializeTflite(g)), want);
    const got = await on(bytes);
    const weightOnly = await on(serializeTflite(q, { weightOnly: true }));
    console.log(`embed_bmm vs PyTorch: float ${float.toExponential(2)}, dynamic ${relErr(got, want).toExponential(2)}, weight-only ${relErr(weightOnly, want).toExponential(2)}`);
    expect(float).toBeLessThanOrEqual(1e-5);
    // measured 1.4e-2 (weight-only 1.3e-2): the 5e-2
    expect(relErr(got, want)).toBeLessThanOrEqual(5e-2);
    expect(relErr(weightOnly, want)).toBeLessThanOrEqual(5e-2);
    // nnport's runtime reads the hybrid BATCH_MATMUL back with its per-row int8 input rounding
    // (nnport::HybridInputQuantize) and computes what the interpreter does: 1.8e-3 here, all of it
    // one rounding tie (1 of the 384 int8 input codes one step apart, from a tanh 1.8e-7 off; each
    // op fed the interpreter's own inputs agrees within 2e-7: hybrid-inputs.test.ts)
    expect(relErr(await nnportRun(bytes, ids), got)).toBeLessThanOrEqual(2.5e-3);
    // the quantized graph before writing carries the same marker: the same numbers
    expect(relErr((await runGraph(q, { [q.inputs[0]!.name]: ids })).outputs.get(q.outputs[0]!.name)!.toFloat32(), got)).toBeLessThanOrEqual(2.5e-3);
    expect(relErr(await nnportRun(serializeTflite(q, { weightOnly: true }), ids), weightOnly)).toBeLessThanOrEqual(1e-5);
  });
});

describe('convert --quantize dynamic --dynamic ... --min-elements ...', () => {
  const onnx = join(REPO_ROOT, 'test/fixtures/dynamic-range/embed_bmm/model.onnx');
  it('writes the chosen layout', async () => {
    const out = join(tmp, 'wo.tflite');
    const err: string[] = [];
    expect(await main(['convert', onnx, '-o', out, '--quantize', 'dynamic', '--dynamic', 'weight-only', '--min-elements', '4000'], () => undefined, (s) => err.push(s))).toBe(0);
    const ops = opsOf(flatcJson<FlatcModel>(new Uint8Array(readFileSync(out)), 'wo', { defaults: true }));
    // the 6400-element table int8 behind its DEQUANTIZE; the 3072-element constant under 4000 stays float
    expect(ops.map((o) => `${o.code} ${o.inputs.map((t) => t.type).join(',')}`)).toEqual(['DEQUANTIZE INT8', 'GATHER FLOAT32,INT32', 'TANH FLOAT32', 'BATCH_MATMUL FLOAT32,FLOAT32']);
  });
  it('refuses what does not apply', async () => {
    for (const [args, says] of [
      [['--quantize', 'dynamic', '--dynamic', 'fast'], '--dynamic must be hybrid or weight-only'],
      [['--quantize', 'dynamic', '--min-elements', '0'], '--min-elements needs a positive whole number'],
      [['--quantize', 'float16', '--dynamic', 'weight-only'], '--dynamic applies to --quantize dynamic only'],
      [['--min-elements', '4096'], '--min-elements needs --quantize'],
    ] as const) {
      const err: string[] = [];
      expect(await main(['convert', onnx, '-o', join(tmp, 'x.tflite'), ...args], () => undefined, (s) => err.push(s))).not.toBe(0);
      expect(err.join('\n')).toContain(says);
    }
  });
});

// The random-init torchvision mobilenet_v2 and shufflenet_v2 miss the 5e-2 in TF's layout
// (quantize.test.ts, quantize-fixtures.test.ts: 0.133 and 0.102). Measured per layer in the
// interpreter: int8 weights alone (weight-only everywhere) already give 0.075 and 0.059, and the
// error comes from the small early layers (mobilenet_v2's features.2-4: each one's int8 weights
// alone 0.02-0.05; one of the late layers' 0.002-0.01), which these random nets amplify ~20 dB; the
// hybrid kernels' per-image int8 inputs add the rest (features.2's 1x1 conv hybrid alone: 0.108;
// TFLite's hybrid CONV_2D / DEPTHWISE quantize the whole image with one asymmetric scale, and no
// option changes that). What TF's own quantizer offers and meets 5e-2: weight-only kernels with
// weights under 4096 elements float (98-99 % of the weights still int8). Measured with it on every
// fixture: lenet 0.003, seg_head 3e-7 (all its weights under 4096), squeezenet 0.014, resnet18
// 0.022, efficientnet_b0 0.023, densenet121 0.037 -- and the trained MobileNet-v2 of
// quantize-trained.test.ts 0 (its weights are int8 values already). Hybrid kernels with weights
// under 8192 float give 0.046 / 0.049 here but 0.060 on the trained net (TF's layout: 0.048), so
// that is no fix.
describe('random-init torchvision nets that miss 5e-2 in TF\'s layout, with the option that meets it', () => {
  const cases: [string, QuantizeOptions, number][] = [
    // measured: mobilenet_v2 0.043 (98.9 % of the weights int8), shufflenet_v2 0.022 (97.8 %)
    ['weight-only, minElements 4096', { mode: 'dynamic', dynamic: 'weight-only', minElements: 4096 }, 5e-2],
  ];
  for (const name of ['mobilenet_v2', 'shufflenet_v2_x1_0']) {
    it(name, { timeout: 300_000 }, async () => {
      const dir = torchvisionDir(name);
      const m = await readModel(new Uint8Array(readFileSync(join(dir, 'model.onnx'))), { fileName: `${name}.onnx` });
      const g = await prepareForTflite((m as { graph: Graph }).graph);
      const x = permuteTensor(readNpy(readFileSync(join(dir, 'input.npy'))), [0, 2, 3, 1]);
      const want = readNpy(readFileSync(join(dir, 'output.npy'))).toFloat32();
      for (const [label, options, bound] of cases) {
        const q = (await quantizeGraph(g, options)).graph;
        const bytes = serializeTflite(q, { quantize: options });
        const got = (await oracle.run(bytes, [x.data as Float32Array]))[0]!.data as Float32Array;
        const int8 = [...q.initializers.values()].filter((t) => t.dtype === 'int8' && t.rank > 1).reduce((a, t) => a + t.size, 0);
        const all = [...g.initializers.values()].filter((t) => t.dtype === 'float32' && t.rank > 1).reduce((a, t) => a + t.size, 0);
        console.log(`${name} ${label}: ${relErr(got, want).toExponential(2)} vs PyTorch, ${((100 * int8) / all).toFixed(1)} % of the weights int8`);
        expect(int8 / all).toBeGreaterThan(0.97);
        expect(relErr(got, want)).toBeLessThanOrEqual(bound);
        // float kernels: nnport's runtime on the file read back computes what the interpreter does
        if (options.dynamic === 'weight-only') expect(relErr(await nnportRun(bytes, x), got)).toBeLessThanOrEqual(1e-5);
      }
    });
  }
});

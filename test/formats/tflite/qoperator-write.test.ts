// onnxruntime's quantized ONNX models (scripts/fixtures/onnx_qoperator.py: a small CNN and
// MobileNetV2 in quantize_static's QOperator layout, uint8 and int8 activations, and in
// quantize_dynamic's layout) converted by nnport: src/passes/qoperator-to-qdq.ts lowers them to
// QDQ, the TFLite writer makes a full-int8 .tflite of the static form and a dynamic-range one
// (int8 weights, float activations) of the dynamic form. The real TFLite interpreter runs the
// files against onnxruntime-node on the source .onnx; .onnx out is run by onnxruntime again.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { qoperatorToQdq } from '../../../src/passes/qoperator-to-qdq.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { flatcJson, type FlatcOps, opNameOf, useTfliteOracle } from '../../support/tflite-test.js';
import { runOrt } from '../onnx/ort-helpers.js';

const NETS = ['cnn', 'mobilenet_v2'] as const;
const CACHE = join(REPO_ROOT, '.fixtures-cache/onnx-qoperator');
const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  ensureScriptFixtures('onnx_qoperator.py', 'onnx-qoperator', NETS);
}, 600_000);

const file = (...p: string[]): Uint8Array => new Uint8Array(readFileSync(join(CACHE, ...p)));
const input = (net: string): Tensor => readNpy(file(net, 'input.npy'), 'input.npy');

async function ortOutput(bytes: Uint8Array, x: Tensor): Promise<Float32Array> {
  const o = await runOrt(bytes, { input: x });
  const b = o.output!.bytes as Uint8Array;
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** The scale of the DequantizeLinear that makes the static model's float output (its quantization step). */
async function outputStep(bytes: Uint8Array, name: string): Promise<number> {
  const model = await loadModel(bytes, { fileName: name });
  if (model.kind !== 'graph') throw new Error('no graph');
  const dq = model.graph.nodes.find((n) => n.outputs[0] === model.graph.outputs[0]!.name)!;
  return model.graph.initializers.get(dq.inputs[1]!)!.toNumbers()[0]!;
}

interface FlatTensor {
  type?: string;
  buffer?: number;
  name?: string;
}
type Flat = FlatcOps<{ inputs: number[]; outputs: number[] }, { tensors: FlatTensor[] }>;

describe('onnxruntime static (QOperator) models -> full-int8 .tflite, run by the TFLite interpreter against onnxruntime on the .onnx', () => {
  for (const net of NETS) {
    for (const form of ['static_u8', 'static_s8'] as const) {
      it(`${net} ${form}`, async () => {
        const bytes = file(net, `${form}.onnx`);
        const model = await loadModel(bytes, { fileName: `${net}-${form}.onnx` });
        const x = input(net);
        const want = await ortOutput(bytes, x);
        const step = await outputStep(bytes, `${net}-${form}.onnx`);
        // the lowered QDQ graph on nnport's runtime (float arithmetic between the 8-bit roundings)
        if (model.kind !== 'graph') throw new Error('no graph');
        const lowered = qoperatorToQdq(model.graph);
        expect(lowered.graph.nodes.some((n) => n.opType.startsWith('QLinear') || n.domain === 'com.microsoft')).toBe(false);
        const qdq = (await runGraph(lowered.graph, new Map([['input', x]]))).outputs.get('output')!.toFloat32();
        const t = await convert(model, `${net}-${form}.tflite`);
        const json = flatcJson<Flat>(t.bytes, `${net}-${form}`);
        const sub = json.subgraphs[0]!;
        const ops = sub.operators.map((o) => opNameOf(json, o));
        // full int8: the float input quantized once, the output dequantized once, every conv / dense on int8 tensors
        expect(ops.filter((o) => o === 'DEQUANTIZE').length).toBe(1);
        for (const [k, o] of sub.operators.entries()) {
          if (['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'ADD', 'MUL', 'AVERAGE_POOL_2D', 'MEAN', 'CONCATENATION', 'LOGISTIC', 'LEAKY_RELU'].includes(ops[k]!)) {
            expect(sub.tensors[o.inputs[0]!]!.type, `${ops[k]} input`).toBe('INT8');
            expect(sub.tensors[o.outputs[0]!]!.type, `${ops[k]} output`).toBe('INT8');
          }
        }
        const [y] = await oracle.run(t.bytes, [permuteTensor(x, [0, 2, 3, 1]).toFloat32()]);
        const got = y!.data as Float32Array;
        const dTfl = maxAbs(got, want);
        const dQdq = maxAbs(qdq, want);
        console.log(`${net} ${form}: TFLite interpreter vs onnxruntime ${(dTfl / step).toFixed(2)} steps, nnport QDQ runtime ${(dQdq / step).toFixed(2)} steps (step ${step.toExponential(3)}; ${ops.length} ops: ${[...new Set(ops)].join(' ')})`);
        expect(dTfl).toBeLessThanOrEqual(step * 1.0001);
        expect(dQdq).toBeLessThanOrEqual(step * 1.0001);
      });
    }
  }
});

describe('onnxruntime dynamic models -> dynamic-range .tflite (int8 weights, float activations)', () => {
  for (const net of NETS) {
    it(`${net} dynamic`, async () => {
      const bytes = file(net, 'dynamic.onnx');
      const model = await loadModel(bytes, { fileName: `${net}-dynamic.onnx` });
      const x = input(net);
      const want = await ortOutput(bytes, x);
      const t = await convert(model, `${net}-dynamic.tflite`);
      const json = flatcJson<Flat>(t.bytes, `${net}-dynamic`);
      const sub = json.subgraphs[0]!;
      const ops = sub.operators.map((o) => opNameOf(json, o));
      // every conv / dense weight stored int8, read through a DEQUANTIZE (TF's weight-only layout)
      const convs = sub.operators.filter((o) => ['CONV_2D', 'DEPTHWISE_CONV_2D'].includes(opNameOf(json, o)));
      expect(convs.length).toBe(net === 'cnn' ? 5 : 52);
      for (const o of convs) {
        const w = o.inputs[1]!;
        const dq = sub.operators.find((p) => p.outputs[0] === w && opNameOf(json, p) === 'DEQUANTIZE');
        expect(dq, 'conv weights come from a DEQUANTIZE').toBeDefined();
        expect(sub.tensors[dq!.inputs[0]!]!.type).toBe('INT8');
        expect(sub.tensors[o.inputs[0]!]!.type ?? 'FLOAT32').toBe('FLOAT32');
      }
      const [y] = await oracle.run(t.bytes, [permuteTensor(x, [0, 2, 3, 1]).toFloat32()]);
      const d = maxAbs(y!.data as Float32Array, want);
      const range = Math.max(...Array.from(want, Math.abs));
      console.log(`${net} dynamic: TFLite interpreter vs onnxruntime max ${d.toExponential(3)} (output max |y| ${range.toFixed(3)}; ${ops.length} ops: ${[...new Set(ops)].join(' ')})`);
      // onnxruntime rounds each conv / matmul input to uint8 at run time; the file computes on the float input
      // measured: 7.8e-4 cnn (0.22% of the output range), 1.3e-3 mobilenet_v2 (0.37%)
      expect(d).toBeLessThanOrEqual(0.01 * range);
    });
  }
});

describe('.onnx out keeps the quantized operators', () => {
  for (const form of ['static_u8', 'dynamic'] as const) {
    it(`cnn ${form}: written back, onnxruntime gives the same output`, async () => {
      const bytes = file('cnn', `${form}.onnx`);
      const model = await loadModel(bytes, { fileName: `cnn-${form}.onnx` });
      const out = await convert(model, 'q.onnx');
      const x = input('cnn');
      expect(maxAbs(await ortOutput(out.bytes, x), await ortOutput(bytes, x))).toBe(0);
    });
  }
});

describe('--dequantize', () => {
  it('cnn static_u8: a float .onnx onnxruntime runs, close to the quantized model', async () => {
    const bytes = file('cnn', 'static_u8.onnx');
    const model = await loadModel(bytes, { fileName: 'cnn-static_u8.onnx' });
    const out = await convert(model, 'f.onnx', { dequantize: true });
    const back = await loadModel(out.bytes, { fileName: 'f.onnx' });
    if (back.kind !== 'graph') throw new Error('no graph');
    expect(back.graph.nodes.filter((n) => n.domain === 'com.microsoft' || /Quantize|QLinear|Integer/.test(n.opType))).toEqual([]);
    const x = input('cnn');
    const step = await outputStep(bytes, 'cnn-static_u8.onnx');
    const d = maxAbs(await ortOutput(out.bytes, x), await ortOutput(bytes, x));
    console.log(`cnn static_u8 dequantized: onnxruntime float vs onnxruntime quantized ${(d / step).toFixed(2)} steps`);
    // the 8-bit rounding of every activation is gone, the saturation that stood for the dropped Relus
    // stays a Clip (without it: 172 steps off); measured 1.01 steps
    expect(d).toBeLessThanOrEqual(4 * step);
  });
});

describe('what the pass cannot lower', () => {
  it('a com.microsoft op without a QDQ lowering is refused by name', async () => {
    const model = await loadModel(file('cnn', 'static_u8.onnx'), { fileName: 'cnn.onnx' });
    if (model.kind !== 'graph') throw new Error('no graph');
    const graph = { ...model.graph, nodes: model.graph.nodes.map((n) => (n.opType === 'QLinearSigmoid' ? { ...n, opType: 'QLinearSoftmax' } : n)) };
    await expect(convert({ ...model, graph }, 'q.tflite')).rejects.toThrow(UnsupportedError);
    await expect(convert({ ...model, graph }, 'q.tflite')).rejects.toThrow(/com\.microsoft\.QLinearSoftmax/);
  });
  it('ConvInteger outside the dynamic-quantization pattern is refused by name', async () => {
    const model = await loadModel(file('cnn', 'dynamic.onnx'), { fileName: 'cnn.onnx' });
    if (model.kind !== 'graph') throw new Error('no graph');
    // the Cast after the first ConvInteger made an Identity: the int32 accumulators are read as they are
    const first = model.graph.nodes.find((n) => n.opType === 'ConvInteger')!;
    const graph = { ...model.graph, nodes: model.graph.nodes.map((n) => (n.opType === 'Cast' && n.inputs[0] === first.outputs[0] ? { ...n, opType: 'Identity', attrs: {} } : n)) };
    await expect(convert({ ...model, graph }, 'q.tflite')).rejects.toThrow(/ConvInteger outside onnxruntime's dynamic-quantization pattern/);
  });
});

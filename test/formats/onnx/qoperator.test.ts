// Quantized ONNX models as onnxruntime's quantizer writes them (scripts/fixtures/onnx_qoperator.py,
// .fixtures-cache/onnx-qoperator/) run by nnport's runtime against onnxruntime-node on the same
// files: one node each of QLinearConv / ConvInteger / QLinearMatMul / MatMulInteger and the
// com.microsoft QLinear* ops and QGemm (exact; QLinearSigmoid within 1 LSB: onnxruntime's logistic
// is MLAS's polynomial, not exp), and whole nets in the dynamic and static (QOperator) forms.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { loadModel, run } from '../../../src/index.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { runOrt, type OrtOutputs } from './ort-helpers.js';

const OPS = [
  'qlinearconv_u8s8', 'qlinearconv_u8s8_pc_group', 'qlinearconv_s8s8_depthwise', 'qlinearconv_u8u8_1d', 'qlinearconv_u8s8_same',
  'convinteger_u8u8', 'convinteger_u8u8_group',
  'matmulinteger_u8s8_3d', 'matmulinteger_u8u8_column_zp', 'matmulinteger_s8s8_batch',
  'qlinearmatmul_u8s8_column', 'qlinearmatmul_s8s8', 'qlinearmatmul_u8u8',
  'qlinearadd_u8_broadcast', 'qlinearadd_s8', 'qlinearmul_u8_broadcast', 'qlinearmul_s8',
  'qlinearconcat_u8', 'qlinearconcat_s8', 'qlinearsigmoid_u8', 'qlinearsigmoid_s8', 'qlinearleakyrelu_u8', 'qlinearleakyrelu_s8',
  'qlinearglobalaveragepool_u8', 'qlinearglobalaveragepool_s8',
  'qlinearaveragepool_u8', 'qlinearaveragepool_s8_include_pad', 'qlinearaveragepool_u8_ceil',
  'qgemm_u8s8', 'qgemm_s8s8_float_out',
] as const;
const NETS = ['cnn', 'mobilenet_v2'] as const;
const CACHE = join(REPO_ROOT, '.fixtures-cache/onnx-qoperator');

beforeAll(async () => {
  await initKernels();
  ensureScriptFixtures('onnx_qoperator.py', 'onnx-qoperator', [...OPS.map((o) => `ops/${o}`), ...NETS]);
}, 600_000);

const file = (...p: string[]): Uint8Array => new Uint8Array(readFileSync(join(CACHE, ...p)));
const npy = (...p: string[]): Tensor => readNpy(file(...p), p[p.length - 1]);

/** onnxruntime's output as a tensor of its dtype. */
function ortTensor(o: OrtOutputs[string]): Tensor {
  const bytes = o.bytes as Uint8Array;
  const dtype = o.type as 'uint8' | 'int8' | 'int32' | 'float32';
  const data = { uint8: () => bytes, int8: () => new Int8Array(bytes.buffer), int32: () => new Int32Array(bytes.buffer), float32: () => new Float32Array(bytes.buffer) }[dtype]();
  return new Tensor(dtype, [...o.dims], data);
}

/** The largest elementwise difference (in stored units: LSBs for integers). */
function maxDiff(a: Tensor, b: Tensor): number {
  expect(a.dtype).toBe(b.dtype);
  expect(a.shape).toEqual(b.shape);
  const x = a.toNumbers();
  const y = b.toNumbers();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

async function both(bytes: Uint8Array, name: string, feeds: Record<string, Tensor>): Promise<{ ours: Tensor; ort: Tensor }> {
  const model = await loadModel(bytes, { fileName: name });
  if (model.kind !== 'graph') throw new Error('no graph');
  const r = await run(model, feeds);
  const out = model.graph.outputs[0]!.name;
  const o = await runOrt(bytes, feeds);
  return { ours: r.outputs.get(out)!, ort: ortTensor(o[out]!) };
}

describe('quantized ONNX ops against onnxruntime-node (one node each)', () => {
  for (const op of OPS) {
    it(op, async () => {
      const bytes = file('ops', op, 'model.onnx');
      const model = await loadModel(bytes, { fileName: `${op}.onnx` });
      if (model.kind !== 'graph') throw new Error('no graph');
      const feeds = Object.fromEntries(model.graph.inputs.map((v, k) => [v.name, npy('ops', op, `x${k}.npy`)]));
      const { ours, ort } = await both(bytes, `${op}.onnx`, feeds);
      const d = maxDiff(ours, ort);
      // MLAS computes the logistic by a rational approximation: a table entry on a rounding boundary may differ by one
      if (op.startsWith('qlinearsigmoid')) expect(d).toBeLessThanOrEqual(1);
      else if (ours.dtype === 'float32') expect(d).toBeLessThanOrEqual(1e-6 * Math.max(...ort.toNumbers().map(Math.abs)));
      else expect(d).toBe(0);
    });
  }
});

describe('quantized nets (onnxruntime quantize_dynamic / quantize_static layouts) against onnxruntime-node', () => {
  for (const net of NETS) {
    for (const form of ['static_u8', 'static_s8', 'dynamic'] as const) {
      it(`${net} ${form}`, async () => {
        const x = npy(net, 'input.npy');
        const { ours, ort } = await both(file(net, `${form}.onnx`), `${net}-${form}.onnx`, { input: x });
        const d = maxDiff(ours, ort);
        const range = Math.max(...ort.toNumbers().map(Math.abs));
        console.log(`${net} ${form}: max |nnport - onnxruntime| ${d.toExponential(3)} (output max |y| ${range.toFixed(3)})`);
        if (form === 'dynamic') {
          // float activations between the integer ops: the float ops' summation order differs, and a
          // DynamicQuantizeLinear rounding may flip (measured here: 3.0e-8 cnn, 6.0e-8 mobilenet_v2)
          expect(d).toBeLessThanOrEqual(1e-5 * range);
        } else {
          // the output is DequantizeLinear of the last 8-bit tensor: at most one step of its scale
          // (measured here: equal)
          const model = await loadModel(file(net, `${form}.onnx`), { fileName: `${net}-${form}.onnx` });
          if (model.kind !== 'graph') throw new Error('no graph');
          const dq = model.graph.nodes.find((n) => n.outputs[0] === model.graph.outputs[0]!.name)!;
          expect(dq.opType).toBe('DequantizeLinear');
          const step = model.graph.initializers.get(dq.inputs[1]!)!.toNumbers()[0]!;
          expect(d).toBeLessThanOrEqual(step * 1.0001);
        }
      });
    }
  }
});

describe('com.microsoft ops nnport does not implement', () => {
  it('are refused by name', async () => {
    // QLinearSoftmax beside the implemented ones: the runtime names it
    const bytes = file('ops', 'qlinearsigmoid_u8', 'model.onnx');
    const model = await loadModel(bytes, { fileName: 'q.onnx' });
    if (model.kind !== 'graph') throw new Error('no graph');
    const graph = { ...model.graph, nodes: model.graph.nodes.map((n) => ({ ...n, opType: 'QLinearSoftmax' })) };
    await expect(run(graph, { x: npy('ops', 'qlinearsigmoid_u8', 'x0.npy') })).rejects.toThrow(UnsupportedError);
    await expect(run(graph, { x: npy('ops', 'qlinearsigmoid_u8', 'x0.npy') })).rejects.toThrow(/com\.microsoft\.QLinearSoftmax/);
  });
});

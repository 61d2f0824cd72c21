// The TFLite reader on the IF / WHILE files nnport's writer makes of PyTorch-exported ONNX
// (scripts/fixtures/tflite_control_flow.py: torch.jit.script modules; a data-dependent if whose
// branches hold conv / relu / matmul, for loops of run-time trip count around a linear + tanh and
// a conv reading the main graph's conv): the file read back, run by nnport's runtime and, converted
// to .onnx, by onnxruntime, against the real interpreter on the same file (and PyTorch).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff, relErr } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const NETS = ['if_conv', 'loop_tanh', 'loop_conv'] as const;
let dir = '';
const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  dir = ensureScriptFixtures('tflite_control_flow.py', 'tflite-control-flow', NETS);
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const load = async (net: string) => loadModel(new Uint8Array(readFileSync(join(dir, net, 'model.onnx'))), { fileName: `${net}.onnx` });

function allOps(g: Graph): string[] {
  return g.nodes.flatMap((n) => [n.opType, ...Object.values(n.attrs).flatMap((a) => (a.type === 'graph' ? allOps(a.value) : []))]);
}

/** nnport's runtime on the file read back and onnxruntime on its .onnx, each against the interpreter and PyTorch. */
async function readBack(net: string, bytes: Uint8Array, inputs: Tensor[], pytorch: Float32Array, controlFlow: string): Promise<void> {
  const [theirs] = await oracle.run(bytes, inputs.map((t) => t.data as ArrayBufferView));
  const g = await readTflite(bytes, { fileName: `${net}.tflite` });
  expect(allOps(g)).toContain(controlFlow);
  const feeds = Object.fromEntries(g.inputs.map((v, i) => [v.name, inputs[i]!]));
  const [mine] = [...(await runGraph(g, feeds)).outputs.values()];
  const onnx = await convert(await loadModel(bytes, { fileName: `${net}.tflite` }), `${net}.onnx`);
  const [ort] = [...(await ortRun(onnx.bytes, inputs)).values()];
  const want = theirs!.data as Float32Array;
  const errs = [relErr(mine!.toFloat32(), want), relErr(ort!.toFloat32(), want), maxAbsDiff(mine!.toFloat32(), pytorch)];
  console.log(`${net}: read back, nnport vs interpreter ${errs[0]!.toExponential(2)} (relative to the largest output), onnxruntime vs interpreter ${errs[1]!.toExponential(2)}, nnport vs PyTorch ${errs[2]!.toExponential(2)} max abs`);
  expect(mine!.shape).toEqual(theirs!.shape);
  // the conv / matmul sums run in another order than the interpreter's: within 1e-6 of the largest output
  expect(errs[0]).toBeLessThanOrEqual(1e-6);
  expect(errs[1]).toBeLessThanOrEqual(1e-6);
  expect(errs[2]).toBeLessThan(1e-5);
}

describe('IF / WHILE files of nnport\'s TFLite writer, read back', () => {
  it('a data-dependent if (conv + relu / matmul + relu branches): each branch', { timeout: 120_000 }, async () => {
    const { bytes } = await convert(await load('if_conv'), 'if_conv.tflite', { keepNchwIo: true });
    for (const k of ['pos', 'neg']) await readBack('if_conv', bytes, [npy('if_conv', `input_${k}`)], npy('if_conv', `output_${k}`).toFloat32(), 'If');
  });

  it.each([
    ['loop_tanh', [3, 0, 5]],
    ['loop_conv', [2, 4]],
  ] as const)('%s: a for loop of run-time trip count, for each count', { timeout: 120_000 }, async (net, trips) => {
    const { bytes } = await convert(await load(net), `${net}.tflite`, { int32Io: true, keepNchwIo: true });
    for (const t of trips) await readBack(net, bytes, [npy(net, 'input_x'), new Tensor('int32', [], Int32Array.of(t))], npy(net, `output_n${t}`).toFloat32(), 'Loop');
  });
});

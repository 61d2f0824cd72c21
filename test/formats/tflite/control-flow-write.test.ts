// Run-time If / Loop written as TFLite IF / WHILE subgraphs (write-control-flow.ts), run by the
// real TFLite interpreter against PyTorch (scripts/fixtures/tflite_control_flow.py: torch.jit.script
// modules exported to ONNX): a data-dependent if whose branches hold conv / relu / matmul, a for
// loop whose trip count is an input value carrying a tensor through a linear + tanh, and one whose
// body holds a conv and reads the main graph's conv output. The trip count is fed as int32
// (--int32-io: the interpreter in the browser takes no int64 input). flatc verifies a written file
// and shows its subgraphs (quantized: control-flow-quantize.test.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { flatcJson, opNameOf, type FlatcOps, useTfliteOracle } from '../../support/tflite-test.js';

const NETS = ['if_conv', 'loop_tanh', 'loop_conv'] as const;
// the GraphDef / TF.js writers' fixtures (onnx_run_time_control_flow.py) written as .tflite too
const SHARED = {
  data_if: { inputs: ['x'], cases: ['_pos', '_neg'] },
  count_loop: { inputs: ['x', 'n'], cases: ['_3', '_0', '_7'] },
  conv_if: { inputs: ['x'], cases: ['_pos', '_neg'] },
  nested: { inputs: ['x', 'n'], cases: ['_5', '_2'] },
  while_loop: { inputs: ['x'], cases: ['_small', '_big'] },
  // PyTorch's list append + stack: a Loop scan output (a WHILE loop var grown by CONCATENATION)
  scan_loop: { inputs: ['x', 'n'], cases: ['_4', '_1'], outputs: ['y', 'z'] },
} as const;
let dir = '';
let shared = '';
const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  dir = ensureScriptFixtures('tflite_control_flow.py', 'tflite-control-flow', NETS);
  shared = ensureScriptFixtures('onnx_run_time_control_flow.py', 'run-time-control-flow', Object.keys(SHARED));
}, 300_000);

const npy = (net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(dir, net, `${f}.npy`))), f);
const load = async (net: string) => loadModel(new Uint8Array(readFileSync(join(dir, net, 'model.onnx'))), { fileName: `${net}.onnx` });

/** The builtin op names of each subgraph of a written file (flatc's view: the verifier accepts it). */
function subgraphOps(bytes: Uint8Array, name: string): string[][] {
  const json = flatcJson<FlatcOps & { subgraphs: Array<{ operators: Array<{ opcode_index?: number }> }> }>(bytes, name);
  return json.subgraphs.map((s) => s.operators.map((o) => opNameOf(json, o)));
}

describe('run-time control flow in .tflite (IF / WHILE subgraphs), run by the TFLite interpreter vs PyTorch', () => {
  it('a data-dependent if: each branch (conv + relu / matmul + relu) taken once, outputs within 1e-5 of PyTorch', async () => {
    const { bytes, notes } = await convert(await load('if_conv'), 'if_conv.tflite', { keepNchwIo: true });
    expect(notes.join('\n')).toMatch(/If kept as tflite control flow/);
    const ops = subgraphOps(bytes, 'if_conv');
    expect(ops.length).toBe(3);
    expect(ops[0]).toContain('IF');
    expect(ops.slice(1).flat()).toContain('CONV_2D');
    for (const k of ['pos', 'neg']) {
      const x = npy('if_conv', `input_${k}`);
      const [y] = await oracle.run(bytes, [x.toFloat32()]);
      const want = npy('if_conv', `output_${k}`).toFloat32();
      expect(y!.shape).toEqual([1, 4, 8, 8]);
      const err = maxAbsDiff(y!.data as Float32Array, want);
      console.log(`if_conv (${k}) .tflite vs PyTorch: max abs ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
    }
  });

  it.each([
    ['loop_tanh', [3, 0, 5]],
    ['loop_conv', [2, 4]],
  ] as const)('%s: a for loop of run-time trip count (WHILE), outputs within 1e-5 of PyTorch for each count', async (net, trips) => {
    const { bytes } = await convert(await load(net), `${net}.tflite`, { int32Io: true, keepNchwIo: true });
    const ops = subgraphOps(bytes, net);
    expect(ops[0]).toContain('WHILE');
    expect(ops.length).toBe(3);
    const ins = await oracle.inputs(bytes);
    expect(ins.map((t) => t.dtype)).toEqual(['float32', 'int32']);
    const x = npy(net, 'input_x').toFloat32();
    for (const t of trips) {
      const [y] = await oracle.run(bytes, [x, Int32Array.of(t)]);
      const err = maxAbsDiff(y!.data as Float32Array, npy(net, `output_n${t}`).toFloat32());
      console.log(`${net} (${t} trips) .tflite vs PyTorch: max abs ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
    }
  });

  it.each(Object.entries(SHARED))('%s (onnx_run_time_control_flow.py): every case within 1e-5 of PyTorch', async (net, spec) => {
    const model = await loadModel(new Uint8Array(readFileSync(join(shared, net, 'model.onnx'))), { fileName: `${net}.onnx` });
    const { bytes } = await convert(model, `${net}.tflite`, { int32Io: true, keepNchwIo: true });
    const ops = subgraphOps(bytes, net);
    expect(ops[0]!.some((o) => o === 'IF' || o === 'WHILE')).toBe(true);
    const at = (f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(shared, net, `${f}.npy`))), f);
    for (const c of spec.cases) {
      const feeds = spec.inputs.map((i) => (i === 'n' ? Int32Array.from(at(i + c).toNumbers()) : at(i + c).toFloat32()));
      const ys = await oracle.run(bytes, feeds);
      const names: readonly string[] = 'outputs' in spec ? spec.outputs : ['y'];
      expect(ys.length).toBe(names.length);
      names.forEach((o, k) => {
        expect(ys[k]!.shape, o).toEqual(at(o + c).shape);
        const err = maxAbsDiff(ys[k]!.data as Float32Array, at(o + c).toFloat32());
        console.log(`${net}${c} ${o} .tflite (${ops.length} subgraphs) vs PyTorch: max abs ${err.toExponential(2)}`);
        expect(err).toBeLessThan(1e-5);
      });
    }
  });

  it('--quantize float16: the branches\' weights float16 too (DEQUANTIZE in their subgraphs), outputs within float16 rounding of PyTorch', async () => {
    const { bytes } = await convert(await load('if_conv'), 'if_conv16.tflite', { keepNchwIo: true, quantize: { mode: 'float16' } });
    const ops = subgraphOps(bytes, 'if_conv16');
    expect(ops[1]).toContain('DEQUANTIZE');
    for (const k of ['pos', 'neg']) {
      const [y] = await oracle.run(bytes, [npy('if_conv', `input_${k}`).toFloat32()]);
      const want = npy('if_conv', `output_${k}`).toFloat32();
      const err = maxAbsDiff(y!.data as Float32Array, want) / Math.max(...want.map(Math.abs));
      console.log(`if_conv (${k}) float16 .tflite vs PyTorch: max abs / max |y| ${err.toExponential(2)}`);
      expect(err).toBeLessThan(5e-3);
    }
  });

  it("int8 with --method search of a model with kept control flow is refused by name (its regions run on the values read by name; control-flow-options.test.ts has the other options)", async () => {
    await expect(convert(await load('loop_tanh'), 'q.tflite', { quantize: { mode: 'int8', calibration: [], method: 'search' } })).rejects.toThrow(/calibration method 'search' with int8 of a model with kept run-time control flow/);
  });
});

// Quantized .tflite of models that keep run-time If / Loop (IF / WHILE subgraphs): the quantize
// pass visits the branches and loop bodies. Run by the real TFLite interpreter against PyTorch
// (scripts/fixtures/tflite_control_flow.py, onnx_run_time_control_flow.py). dynamic: int8 weights
// inside the bodies too (hybrid kernels). int8 / int16x8: calibrated on random inputs (both branches
// taken, trip counts 0..7), every body value's range over all its executions; the IF / WHILE pass
// integers (a loop's carried value on one scale for all iterations), checked on the fixtures'
// held-out inputs against PyTorch (SNR) and nnport's integer runtime against the interpreter (steps).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { maxAbsDiff, pooledSnrDb, relErr } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { flatcJson, opNameOf, type FlatcOps, useTfliteOracle } from '../../support/tflite-test.js';

const NETS = ['if_conv', 'loop_tanh', 'loop_conv'] as const;
// (conv_if is left out: its else branch is a sigmoid of pre-activations up to about 30, where int8
// weights alone move the output by 4.6e-2 of its largest, hybrid inputs 5.3e-2; if_conv has its convs)
const SHARED = {
  nested: { inputs: ['x', 'n'], cases: ['_5', '_2'] },
  count_loop: { inputs: ['x', 'n'], cases: ['_3', '_0', '_7'] },
} as const;
let dir = '';
let shared = '';
const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  dir = ensureScriptFixtures('tflite_control_flow.py', 'tflite-control-flow', NETS);
  shared = ensureScriptFixtures('onnx_run_time_control_flow.py', 'run-time-control-flow', Object.keys(SHARED));
}, 300_000);

const npyIn = (d: string, net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(d, net, `${f}.npy`))), f);
const load = async (d: string, net: string) => loadModel(new Uint8Array(readFileSync(join(d, net, 'model.onnx'))), { fileName: `${net}.onnx` });

/** Each subgraph's operators as (builtin name, dtype of its weight input) of a written file (flatc's view: the verifier accepts it). */
function subgraphOps(bytes: Uint8Array, name: string): Array<Array<{ op: string; weight?: string; inputs: string[] }>> {
  const json = flatcJson<FlatcOps<{ inputs?: number[] }, { tensors: Array<{ type?: string }> }>>(bytes, name);
  const type = (s: { tensors: Array<{ type?: string }> }, i: number) => (i >= 0 ? (s.tensors[i]!.type ?? 'FLOAT32') : '-');
  return json.subgraphs.map((s) => s.operators.map((o) => ({ op: opNameOf(json, o), weight: o.inputs && o.inputs.length > 1 && o.inputs[1]! >= 0 ? type(s, o.inputs[1]!) : undefined, inputs: (o.inputs ?? []).map((i) => type(s, i)) })));
}

/** nnport's runtime on the file read back (its hybrid ops marked by the reader) against the interpreter's outputs: relative to the largest. */
async function readBackErr(bytes: Uint8Array, feeds: ArrayBufferView[], theirs: Tensor[] | Array<{ data: ArrayBufferView }>): Promise<number> {
  const g = await readTflite(bytes);
  const inputs = Object.fromEntries(g.inputs.map((v, i) => [v.name, new Tensor(v.dtype, (v.shape ?? []).map((d) => (typeof d === 'number' ? d : 1)), feeds[i] as never)]));
  const mine = [...(await runGraph(g, inputs)).outputs.values()];
  return Math.max(...mine.map((t, k) => relErr(t.toFloat32(), theirs[k]!.data as Float32Array)));
}

const relMax = (got: Float32Array, want: Float32Array): number => maxAbsDiff(got, want) / Math.max(...Array.from(want, Math.abs), 1e-6);

describe('--quantize dynamic of kept If / Loop: int8 weights in the bodies, run by the TFLite interpreter vs PyTorch', () => {
  it.each([
    ['if_conv', ['_pos', '_neg']],
    ['loop_tanh', ['_n3', '_n0', '_n5']],
    ['loop_conv', ['_n2', '_n4']],
  ] as const)('%s: hybrid CONV_2D / FULLY_CONNECTED of int8 weights inside the IF / WHILE subgraphs, outputs within 5e-2 of PyTorch (relative)', async (net, cases) => {
    const { bytes } = await convert(await load(dir, net), `${net}.tflite`, { int32Io: true, keepNchwIo: true, quantize: { mode: 'dynamic', minElements: 0 } });
    const ops = subgraphOps(bytes, `${net}-dynamic`);
    const bodyInt8 = ops.slice(1).flat().filter((o) => ['CONV_2D', 'FULLY_CONNECTED', 'BATCH_MATMUL'].includes(o.op) && o.weight === 'INT8');
    expect(bodyInt8.length).toBeGreaterThan(0);
    for (const c of cases) {
      const x = npyIn(dir, net, net === 'if_conv' ? `input${c}` : 'input_x').toFloat32();
      const feeds = net === 'if_conv' ? [x] : [x, Int32Array.from(npyIn(dir, net, `input${c}`).toNumbers())];
      const [y] = await oracle.run(bytes, feeds);
      const want = npyIn(dir, net, `output${c}`).toFloat32();
      const err = relMax(y!.data as Float32Array, want);
      const back = await readBackErr(bytes, feeds, [y!]);
      console.log(`${net}${c} dynamic .tflite vs PyTorch: max abs / max |y| ${err.toExponential(2)} (${bodyInt8.length} int8-weight ops in bodies); nnport on the file read back vs the interpreter ${back.toExponential(2)}`);
      expect(err).toBeLessThan(5e-2);
      expect(back).toBeLessThan(1e-5);
    }
  });

  it.each(Object.entries(SHARED))('%s (onnx_run_time_control_flow.py): every case within 5e-2 of PyTorch (relative)', async (net, spec) => {
    const { bytes } = await convert(await load(shared, net), `${net}.tflite`, { int32Io: true, keepNchwIo: true, quantize: { mode: 'dynamic', minElements: 0 } });
    const ops = subgraphOps(bytes, `${net}-dynamic`);
    expect(ops.flat().some((o) => o.weight === 'INT8')).toBe(true);
    for (const c of spec.cases) {
      const feeds = spec.inputs.map((i) => (i === 'n' ? Int32Array.from(npyIn(shared, net, i + c).toNumbers()) : npyIn(shared, net, i + c).toFloat32()));
      const [y] = await oracle.run(bytes, feeds);
      const want = npyIn(shared, net, `y${c}`);
      expect(y!.shape).toEqual(want.shape);
      const err = relMax(y!.data as Float32Array, want.toFloat32());
      const back = await readBackErr(bytes, feeds, [y!]);
      console.log(`${net}${c} dynamic .tflite (${ops.length} subgraphs) vs PyTorch: max abs / max |y| ${err.toExponential(2)}; nnport on the file read back vs the interpreter ${back.toExponential(2)}`);
      expect(err).toBeLessThan(5e-2);
      expect(back).toBeLessThan(1e-5);
    }
  });
});

/** The int8 nets: fixture folder, inputs, held-out cases (the fixtures' file suffixes), outputs, input / output file names. */
interface Int8Net {
  shared: boolean;
  inputs: readonly string[];
  cases: readonly string[];
  outputs: readonly string[];
  /** if-nets: calibration inputs of both signs (each branch taken) */
  signs?: boolean;
  /** calibrated on 1..7 trips (nnport's float runtime cannot give a scan output of zero iterations whose slice shape the body leaves open) */
  minTrips?: 1;
}
const INT8: Record<string, Int8Net> = {
  if_conv: { shared: false, inputs: ['x'], cases: ['_pos', '_neg'], outputs: ['y'], signs: true },
  loop_tanh: { shared: false, inputs: ['x', 'n'], cases: ['_n3', '_n0', '_n5'], outputs: ['y'] },
  loop_conv: { shared: false, inputs: ['x', 'n'], cases: ['_n2', '_n4'], outputs: ['y'] },
  data_if: { shared: true, inputs: ['x'], cases: ['_pos', '_neg'], outputs: ['y'], signs: true },
  conv_if: { shared: true, inputs: ['x'], cases: ['_pos', '_neg'], outputs: ['y'], signs: true },
  count_loop: { shared: true, inputs: ['x', 'n'], cases: ['_3', '_0', '_7'], outputs: ['y'] },
  nested: { shared: true, inputs: ['x', 'n'], cases: ['_5', '_2'], outputs: ['y'] },
  scan_loop: { shared: true, inputs: ['x', 'n'], cases: ['_4', '_1'], outputs: ['y', 'z'], minTrips: 1 },
};

/** A held-out case's file: tflite_control_flow.py names them input_x / input_n3 / output_n3, onnx_run_time_control_flow.py x_3 / n_3 / y_3. */
function caseFile(net: string, spec: Int8Net, io: string, c: string): Tensor {
  if (spec.shared) return npyIn(shared, net, `${io}${c}`);
  if (io === 'x') return npyIn(dir, net, net === 'if_conv' ? `input${c}` : 'input_x');
  return npyIn(dir, net, io === 'n' ? `input${c}` : `output${c}`);
}

/**
 * The integer grid step of output `name` of a graph read back: its DequantizeLinear's scale, or for
 * a float output of a kept IF / WHILE, the largest of its bodies' (a WHILE's body gives its condition first).
 */
function outputStep(g: Graph, name: string): number {
  const dq = g.nodes.find((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === name);
  if (dq) return Math.max(...g.initializers.get(dq.inputs[1]!)!.toNumbers());
  const n = g.nodes.find((m) => m.outputs.includes(name))!;
  const bodies = Object.values(n.attrs).flatMap((a) => (a.type === 'graph' ? [a.value] : []));
  expect(bodies.length).toBeGreaterThan(0);
  return Math.max(...bodies.map((b) => outputStep(b, b.outputs[n.outputs.indexOf(name) + b.outputs.length - n.outputs.length]!.name)));
}

/** int8 / int16x8 of one net: SNR vs PyTorch on the held-out cases, nnport's integer runtime vs the interpreter in output steps. */
async function checkInteger(net: string, spec: Int8Net, mode: 'int8' | 'int16x8'): Promise<void> {
  {
    const x0 = caseFile(net, spec, 'x', spec.cases[0]!);
    const random = rng(11);
    const randn = () => Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
    const calibration = Array.from({ length: 16 }, (_, k) => {
      const x = new Tensor('float32', [...x0.shape], Float32Array.from({ length: x0.size }, () => (spec.signs && k % 2 ? -1 : 1) * randn()));
      return spec.inputs.length > 1 ? [x, new Tensor('int32', [], Int32Array.of(spec.minTrips ? 1 + (k % 7) : k % 8))] : [x];
    });
    // (int16x8: what has no 16x8 kernel, a condition's ReduceSum, stays float)
    const { bytes } = await convert(await load(spec.shared ? shared : dir, net), `${net}.tflite`, { int32Io: true, keepNchwIo: true, quantize: { mode, calibration, floatFallback: mode === 'int16x8' } });
    const ops = subgraphOps(bytes, `${net}-${mode}`);
    // every conv / dense of the bodies is an int8 op (int8 weights, int8 activations)
    const integerBodyOps = ops.slice(1).flat().filter((o) => ['CONV_2D', 'FULLY_CONNECTED', 'BATCH_MATMUL'].includes(o.op));
    expect(integerBodyOps.length).toBeGreaterThan(0);
    expect(integerBodyOps.every((o) => o.weight === 'INT8')).toBe(true);
    // the IF / WHILE pass integers: the values crossing into the bodies on the outer graph's parameters, a loop's carried value on one
    const boundary = ops[0]!.find((o) => o.op === 'IF' || o.op === 'WHILE')!;
    expect(boundary.inputs).toContain(mode === 'int8' ? 'INT8' : 'INT16');
    const back = await readTflite(bytes);
    for (const c of spec.cases) {
      const feeds = spec.inputs.map((i) => (i === 'n' ? Int32Array.from(caseFile(net, spec, 'n', c).toNumbers()) : caseFile(net, spec, i, c).toFloat32()));
      const ys = await oracle.run(bytes, feeds);
      const wants = spec.outputs.map((o) => (spec.shared ? npyIn(shared, net, `${o}${c}`) : caseFile(net, spec, 'y', c)));
      ys.forEach((y, k) => expect(y.shape).toEqual(wants[k]!.shape));
      const snr = pooledSnrDb(wants.map((w) => w.toFloat32()), ys.map((y) => y.data as Float32Array));
      // nnport's integer runtime on the file read back, in steps of each output's grid
      const inputs = Object.fromEntries(back.inputs.map((v, i) => [v.name, new Tensor(v.dtype, [...(i === 0 ? x0.shape : [])], feeds[i] as never)]));
      // (both of its requantizations, as corpus-int8.test.ts: the interpreter's reference kernels and XNNPACK's, which it delegates some subgraphs to)
      const lsb = back.outputs.map((o) => outputStep(back, o.name));
      const offs = await Promise.all(
        [undefined, 'xnnpack' as const].map(async (requantization) => {
          const mine = [...(await runInteger(back, inputs, { requantization })).outputs.values()];
          return Math.max(...mine.map((t, k) => maxAbsDiff(t.toFloat32(), ys[k]!.data as Float32Array) / lsb[k]!));
        }),
      );
      const off = Math.min(...offs);
      console.log(`${net}${c} ${mode} .tflite (${ops.length} subgraphs) vs PyTorch: SNR ${snr.toFixed(1)} dB; nnport's integer runtime vs the interpreter ${off} steps (reference ${offs[0]}, XNNPACK ${offs[1]})`);
      expect(snr).toBeGreaterThanOrEqual(20);
      // (each side's q·s rounded to float32: 2 · 128 (int16: 32768) · 2^-24 of a step more)
      expect(off).toBeLessThanOrEqual(1 + 2 * (mode === 'int8' ? 128 : 32768) * 2 ** -24);
    }
  }
}

describe('--quantize int8 / int16x8 of kept If / Loop: integer bodies behind a float boundary, the interpreter vs PyTorch and nnport\'s integer runtime', () => {
  it.each(Object.entries(INT8))('int8 %s: SNR >= 20 dB vs PyTorch on held-out inputs, integer runtime within 1 step of the interpreter', (net, spec) => checkInteger(net, spec, 'int8'));
  it.each(['if_conv', 'loop_tanh', 'loop_conv', 'count_loop', 'nested'])('int16x8 %s: SNR >= 20 dB vs PyTorch on held-out inputs, integer runtime within 1 step of the interpreter', (net) => checkInteger(net, INT8[net]!, 'int16x8'));
});

// The int8 / int16x8 control-flow nets of the TFLite tests (scripts/fixtures/tflite_control_flow.py,
// onnx_run_time_control_flow.py, tflite_control_flow_blocks.py): their held-out cases, the random calibration set they are
// quantized on, and the check of a written file on the held-out inputs: the real interpreter vs
// PyTorch (SNR) and nnport's integer runtime on the file read back vs the interpreter (steps).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { loadModel, type GraphModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { maxAbsDiff, pooledSnrDb } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { rng } from '../../support/rng.js';
import type { useTfliteOracle } from '../../support/tflite-test.js';

/** An int8 net: fixture script (shared: onnx_run_time_control_flow.py; blocks: tflite_control_flow_blocks.py, the same file names), inputs, held-out cases (the fixtures' file suffixes), outputs. */
export interface Int8Net {
  shared: boolean;
  blocks?: true;
  inputs: readonly string[];
  cases: readonly string[];
  outputs: readonly string[];
  /** if-nets: calibration inputs of both signs (each branch taken) */
  signs?: boolean;
  /** calibrated on 1..7 trips (nnport's float runtime cannot give a scan output of zero iterations whose slice shape the body leaves open) */
  minTrips?: 1;
}

export const INT8_NETS: Record<string, Int8Net> = {
  if_conv: { shared: false, inputs: ['x'], cases: ['_pos', '_neg'], outputs: ['y'], signs: true },
  loop_tanh: { shared: false, inputs: ['x', 'n'], cases: ['_n3', '_n0', '_n5'], outputs: ['y'] },
  loop_conv: { shared: false, inputs: ['x', 'n'], cases: ['_n2', '_n4'], outputs: ['y'] },
  data_if: { shared: true, inputs: ['x'], cases: ['_pos', '_neg'], outputs: ['y'], signs: true },
  conv_if: { shared: true, inputs: ['x'], cases: ['_pos', '_neg'], outputs: ['y'], signs: true },
  count_loop: { shared: true, inputs: ['x', 'n'], cases: ['_3', '_0', '_7'], outputs: ['y'] },
  nested: { shared: true, inputs: ['x', 'n'], cases: ['_5', '_2'], outputs: ['y'] },
  scan_loop: { shared: true, inputs: ['x', 'n'], cases: ['_4', '_1'], outputs: ['y', 'z'], minTrips: 1 },
  loop_blocks: { shared: true, blocks: true, inputs: ['x', 'n'], cases: ['_2', '_5'], outputs: ['y'] },
  lstm_loop: { shared: true, blocks: true, inputs: ['x', 'n'], cases: ['_2', '_5'], outputs: ['y'] },
  loop_lstm: { shared: true, blocks: true, inputs: ['x', 'n'], cases: ['_2', '_5'], outputs: ['y'] },
};

const dirs = { own: '', shared: '', blocks: '' };

/** The fixtures of the nets named (made when missing or stale): call in beforeAll. */
export function ensureControlFlowFixtures(nets: readonly string[]): void {
  const own = nets.filter((n) => !INT8_NETS[n]?.shared);
  const shared = nets.filter((n) => INT8_NETS[n]?.shared && !INT8_NETS[n]?.blocks);
  const blocks = nets.filter((n) => INT8_NETS[n]?.blocks);
  if (own.length) dirs.own = ensureScriptFixtures('tflite_control_flow.py', 'tflite-control-flow', own);
  if (shared.length) dirs.shared = ensureScriptFixtures('onnx_run_time_control_flow.py', 'run-time-control-flow', shared);
  if (blocks.length) dirs.blocks = ensureScriptFixtures('tflite_control_flow_blocks.py', 'tflite-control-flow-blocks', blocks);
}

export const fixtureDir = (spec: Int8Net): string => (spec.blocks ? dirs.blocks : spec.shared ? dirs.shared : dirs.own);
export const npyIn = (d: string, net: string, f: string): Tensor => readNpy(new Uint8Array(readFileSync(join(d, net, `${f}.npy`))), f);
export async function loadNet(d: string, net: string): Promise<GraphModel> {
  const model = await loadModel(new Uint8Array(readFileSync(join(d, net, 'model.onnx'))), { fileName: `${net}.onnx` });
  if (model.kind !== 'graph') throw new Error(`${net}: not a graph model`);
  return model;
}

/** A held-out case's file: tflite_control_flow.py names them input_x / input_n3 / output_n3, onnx_run_time_control_flow.py x_3 / n_3 / y_3. */
export function caseFile(net: string, spec: Int8Net, io: string, c: string): Tensor {
  if (spec.shared) return npyIn(fixtureDir(spec), net, `${io}${c}`);
  if (io === 'x') return npyIn(dirs.own, net, net === 'if_conv' ? `input${c}` : 'input_x');
  return npyIn(dirs.own, net, io === 'n' ? `input${c}` : `output${c}`);
}

/** `count` random calibration samples of normal x (both signs for the if-nets) and trip counts 0..7 (1..7), seeded. */
export function calibrationSet(net: string, spec: Int8Net, count = 16, seed = 11): Tensor[][] {
  const x0 = caseFile(net, spec, 'x', spec.cases[0]!);
  const random = rng(seed);
  const randn = () => Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
  return Array.from({ length: count }, (_, k) => {
    const x = new Tensor('float32', [...x0.shape], Float32Array.from({ length: x0.size }, () => (spec.signs && k % 2 ? -1 : 1) * randn()));
    return spec.inputs.length > 1 ? [x, new Tensor('int32', [], Int32Array.of(spec.minTrips ? 1 + (k % 7) : k % 8))] : [x];
  });
}

/** Tensors as the interpreter's feeds (the trip count int32). */
export const interpreterFeeds = (sample: Tensor[]): ArrayBufferView[] => sample.map((t) => (t.dtype === 'float32' ? t.toFloat32() : Int32Array.from(t.toNumbers())));

/**
 * The integer grid step of output `name` of a graph read back: its DequantizeLinear's scale, or for
 * a float output of a kept IF / WHILE, the largest of its bodies' (a WHILE's body gives its condition first).
 */
export function outputStep(g: Graph, name: string): number {
  const dq = g.nodes.find((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === name);
  if (dq) return Math.max(...g.initializers.get(dq.inputs[1]!)!.toNumbers());
  const n = g.nodes.find((m) => m.outputs.includes(name))!;
  const bodies = Object.values(n.attrs).flatMap((a) => (a.type === 'graph' ? [a.value] : []));
  expect(bodies.length).toBeGreaterThan(0);
  return Math.max(...bodies.map((b) => outputStep(b, b.outputs[n.outputs.indexOf(name) + b.outputs.length - n.outputs.length]!.name)));
}

/** One held-out case of a written file: the interpreter vs PyTorch (SNR, dB) and nnport's integer runtime vs the interpreter (output steps, the better of its two requantizations). */
export interface HeldOut {
  case: string;
  snr: number;
  steps: number;
  /** the reference kernels' and XNNPACK's requantization */
  stepsEach: number[];
}

/** A written int8 / int16x8 .tflite of `net` on its held-out cases (see HeldOut). */
export async function heldOut(oracle: ReturnType<typeof useTfliteOracle>, bytes: Uint8Array, net: string, spec: Int8Net): Promise<HeldOut[]> {
  const x0 = caseFile(net, spec, 'x', spec.cases[0]!);
  const back = await readTflite(bytes);
  const out: HeldOut[] = [];
  for (const c of spec.cases) {
    const feeds = spec.inputs.map((i) => (i === 'n' ? Int32Array.from(caseFile(net, spec, 'n', c).toNumbers()) : caseFile(net, spec, i, c).toFloat32()));
    const ys = await oracle.run(bytes, feeds);
    const wants = spec.outputs.map((o) => (spec.shared ? npyIn(fixtureDir(spec), net, `${o}${c}`) : caseFile(net, spec, 'y', c)));
    ys.forEach((y, k) => expect(y.shape).toEqual(wants[k]!.shape));
    const snr = pooledSnrDb(wants.map((w) => w.toFloat32()), ys.map((y) => y.data as Float32Array));
    const inputs = Object.fromEntries(back.inputs.map((v, i) => [v.name, new Tensor(v.dtype, [...(i === 0 ? x0.shape : [])], feeds[i] as never)]));
    // (both of its requantizations, as corpus-int8.test.ts: the interpreter's reference kernels and XNNPACK's, which it delegates some subgraphs to)
    const lsb = back.outputs.map((o) => outputStep(back, o.name));
    const stepsEach = await Promise.all(
      [undefined, 'xnnpack' as const].map(async (requantization) => {
        const mine = [...(await runInteger(back, inputs, { requantization })).outputs.values()];
        return Math.max(...mine.map((t, k) => maxAbsDiff(t.toFloat32(), ys[k]!.data as Float32Array) / lsb[k]!));
      }),
    );
    out.push({ case: c, snr, steps: Math.min(...stepsEach), stepsEach });
  }
  return out;
}

/** Each side's q·s rounded to float32: 2 · 128 (int16: 32768) · 2^-24 of a step more than 1. */
export const oneStep = (mode: 'int8' | 'int16x8'): number => 1 + 2 * (mode === 'int8' ? 128 : 32768) * 2 ** -24;

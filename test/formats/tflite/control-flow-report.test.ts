// The per-layer int8 report (`--report`) of models that keep run-time If / Loop: a row for every
// quantized value of the main graph and of each IF / WHILE body, over every execution of the body
// (each loop iteration on each sample), and one per float graph output. Checked against the real
// TFLite interpreter: the output rows' SNR is the interpreter's int8 file against its float file on
// the same samples, and the body rows count the executions the samples' trip counts give.
import { beforeAll, describe, expect, it } from 'vitest';
import { convert } from '../../../src/index.js';
import type { LayerError } from '../../../src/passes/quantize.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { calibrationSet, ensureControlFlowFixtures, fixtureDir, INT8_NETS, interpreterFeeds, loadNet } from './control-flow-int8-nets.js';

const NETS = ['if_conv', 'loop_tanh', 'loop_conv', 'data_if', 'conv_if', 'count_loop', 'nested', 'scan_loop', 'loop_blocks'] as const;
const oracle = useTfliteOracle();

beforeAll(async () => {
  await initKernels();
  ensureControlFlowFixtures(NETS);
}, 300_000);

describe('--report of int8 / int16x8 with kept If / Loop: rows of the bodies too, the output rows equal to the interpreter', () => {
  it.each(NETS.flatMap((net) => (['int8', 'int16x8'] as const).filter((m) => m === 'int8' || !['data_if', 'conv_if', 'scan_loop'].includes(net)).map((mode) => [net, mode] as const)))('%s %s: body rows over every execution; the output rows\' SNR is the interpreter\'s (int8 file vs float file) within 0.05 dB (a TANH: 1 dB int8, 0.1 dB int16x8)', async (net, mode) => {
    const spec = INT8_NETS[net]!;
    const model = await loadNet(fixtureDir(spec), net);
    const calibration = calibrationSet(net, spec);
    let report: LayerError[] = [];
    const options = { int32Io: true, keepNchwIo: true } as const;
    const { bytes } = await convert(model, `${net}.tflite`, { ...options, quantize: { mode, calibration, floatFallback: mode === 'int16x8', report: true, onReport: (r) => (report = r) } });
    const { bytes: floatBytes } = await convert(model, `${net}-float.tflite`, options);
    expect(report.length).toBeGreaterThan(0);
    for (const r of report) expect(Number.isFinite(r.maxAbs) && r.maxAbs >= 0, r.value).toBe(true);
    // the bodies' values, named by their body, over every execution of it
    const bodyRows = report.filter((r) => r.body !== undefined);
    expect(bodyRows.length).toBeGreaterThan(0);
    for (const r of bodyRows) expect(r.value.startsWith(`${r.body} / `)).toBe(true);
    const trips = calibration.reduce((a, s) => a + (s.length > 1 ? s[1]!.toNumbers()[0]! : 0), 0);
    const loopRows = bodyRows.filter((r) => /^loop '[^']*' body$/.test(r.body!) && !r.skippedExecutions);
    // (a top-level loop's body runs once per trip of each sample)
    if (spec.inputs.includes('n') && net !== 'nested') expect(loopRows.length).toBeGreaterThan(0);
    for (const r of loopRows) expect(r.executions, r.value).toBe(trips);
    const ifRows = bodyRows.filter((r) => /^if '[^']*' (then|else)_branch$/.test(r.body!));
    if (spec.signs) expect(new Set(ifRows.map((r) => r.body)).size).toBe(2);
    // the output rows: the interpreter's int8 file against its float file on the report's samples (the first 16)
    const want: Float32Array[][] = spec.outputs.map(() => []);
    const got: Float32Array[][] = spec.outputs.map(() => []);
    for (const sample of calibration.slice(0, 16)) {
      const feeds = interpreterFeeds(sample);
      (await oracle.run(floatBytes, feeds)).forEach((y, k) => want[k]!.push(y.data as Float32Array));
      (await oracle.run(bytes, feeds)).forEach((y, k) => got[k]!.push(y.data as Float32Array));
    }
    const outputs = model.graph.outputs.map((o) => report.find((r) => r.value === o.name));
    const lines = report.map((r) => `  ${r.value} (${r.op}): max ${r.maxAbs.toExponential(2)}, mean ${r.meanAbs.toExponential(2)}, SNR ${r.snrDb.toFixed(2)} dB, own ${r.ownSnrDb.toFixed(1)} dB${r.executions !== undefined ? `, ${r.executions} executions` : ''}${r.skippedExecutions ? `, ${r.skippedExecutions} skipped` : ''}`);
    const theirs = outputs.map((_, k) => pooledSnrDb(want[k]!, got[k]!));
    outputs.forEach((row, k) => lines.push(`  output ${k}: report ${row?.snrDb.toFixed(3)} dB, interpreter int8 vs float ${theirs[k]!.toFixed(3)} dB`));
    console.log(`${net} ${mode} report, ${report.length} rows (${bodyRows.length} of bodies; ${trips} trips over the samples):\n${lines.join('\n')}`);
    outputs.forEach((row, k) => {
      expect(row, `a row for output ${model.graph.outputs[k]!.name}`).toBeDefined();
      // (the report runs the QDQ graph: a float tanh rounded once; the interpreter's int8 TANH is a
      // fixed-point one up to 1 step off, over 7 iterations: loop_tanh's report is 34.73 dB, the interpreter 34.08;
      // int16x8's 16-bit TANH is a fixed-point one too: 0.068 dB apart with the dense layer's weights per channel)
      const limit = net === 'loop_tanh' ? (mode === 'int8' ? 1 : 0.1) : 0.05;
      expect(Math.abs(row!.snrDb - theirs[k]!)).toBeLessThan(limit);
    });
  });
});

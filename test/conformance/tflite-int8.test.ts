// Full-integer TFLite (int8, and int16x8: 16-bit activations, 8-bit weights) of the ONNX backend
// cases, each file run by the real TFLite interpreter (tfjs-tflite in headless Chromium, one
// browser for the file). For every case whose graph is float (float32 inputs and outputs; integer
// index inputs allowed) the model is converted with convert(model, 'm.tflite', { quantize })
// calibrated on the case's own inputs plus PERTURBATIONS seeded perturbations of them
// (tflite-int8-run.ts); int8 files take and give int8 (io 'int8': the same integers go to both
// runtimes), int16x8 files float (the file's QUANTIZE rounds them).
//
// Check 1: nnport's integer runtime (runInteger, the interpreter's XNNPACK requantization) gives
//   the interpreter's outputs within 1 step of the output grid. Integer outputs: at most 1.
//   Float outputs (int16x8): each side's dequantized value q·s is rounded to float32, which moves
//   it by up to 2^-24 of |q·s| <= 32768·s, so 1 + 2·32768·2^-24 steps.
// Check 2: the interpreter's dequantized output against the case's expected output, in steps of
//   the output grid (its scale s). The float function evaluated on the model's own rounded inputs
//   (onnxruntime; nnport's float runtime where onnxruntime has no kernel at the case's opset and
//   the ONNX backend suite passes the case) separates what input rounding alone costs ("input").
//   On top of that a correct integer op may be off by: half a step (rounding its output to the
//   grid) + 1 step (its requantization rounding the other way, the slack of check 1) + what its
//   int8 weights' rounding can do (tflite-int8-run.ts weightRoundingSteps: fan-in · max|x| ·
//   max(s_w) / 2, over the output step). So: err <= input + 1.5 + weights for one integer op. A
//   graph of S integer ops in series rounds S times: each stage's 1.5 steps of its own grid,
//   taken at the output's grid (the assumption: stages of about the output's step and gain up to
//   1; cases where a stage amplifies more, 1/sqrt in LayerNormalization's InvStdDev, are KNOWN):
//   err <= input + 1.5·S + weights. A case far beyond computes something else (a wrong quantized
//   op mapping) and fails.
// Every case the writer refuses is refused with a typed NnportError (listed by reason). Cases
// that cannot pass for a reason outside the int8 writer are listed in KNOWN with it.
//
// expected-pass-tflite-int8.txt (committed) lists every passing <mode>/<suite>/<case>: one that
// fails, is refused or goes missing fails the run. Regenerate it with NNPORT_CONFORMANCE_WRITE=1.

import { afterAll, describe, expect, test } from 'vitest';
import { useTfliteOracle } from '../support/tflite-test.js';
import { BACKEND_SUITES, type ConformanceCase, conformanceCases, ConformanceReport, expectedPassRows, expectedPassTest, WRITE_EXPECTED } from './harness.js';
import { runInt8Case, type CaseOutcome, type Mode } from './tflite-int8-run.js';

const SUITES = BACKEND_SUITES;
const MODES: readonly Mode[] = ['int8', 'int16x8'];
const SEED = 20261127;

/** Check 1's slack, in output steps (see above). */
const LSB_INTEGER = 1;
const LSB_FLOAT = 1 + 2 * 32768 * 2 ** -24;
/** Check 2: output rounding (1/2 step) + requantization rounding the other way (1 step). */
const ROUNDING_STEPS = 1.5;

/**
 * int16x8 only: TFLite's 16-bit LOGISTIC / TANH interpolate a 256-entry table of sigmoid at steps
 * h = 1/24 (src/runtime/integer/activations16.ts): at most h²/8 · max|sigmoid''| (0.0962) off,
 * plus the table's own 0.16 rounding (2^-17); tanh(x) = 2·sigmoid(2x) - 1 doubles both. Their input
 * is first rescaled to steps of 1/(3·4096) (half of one off at most, slope at most 1 for tanh, 1/4
 * for sigmoid). In output steps (1/32768).
 */
const SIGMOID_TABLE = (1 / 24) ** 2 / 8 * 0.0962 + 2 ** -17;
const LUT16_STEPS: Record<string, number> = {
  Tanh: (2 * SIGMOID_TABLE + 1 / (2 * 3 * 4096)) * 32768,
  Sigmoid: (SIGMOID_TABLE + 1 / (4 * 2 * 3 * 4096)) * 32768,
};

/** Cases that cannot pass for a reason outside nnport's int8 writer / integer runtime, by mode. */
const KNOWN: Record<string, string> = {
  'int8/node/test_sum_one_input': 'float writer: Sum of one input is ADD_N of one input, which the interpreter refuses (num_inputs >= 2), in float too',
  'int16x8/node/test_sum_one_input': 'float writer: Sum of one input is ADD_N of one input, which the interpreter refuses (num_inputs >= 2), in float too',
  'int8/node/test_gather_negative_indices': "negative Gather indices fed at run time: TFLite's GATHER fails the invoke on them ('indices_has_only_positive_elements'), in float too",
  'int8/node/test_softmax_large_number_expanded': "per-tensor int8 input step 39 (values 0..10003) erases the first row; its rounded exp values then sum past ReduceSum's calibrated range (clipped): every output saturates. Per-tensor int8's limit, not a wrong op (the fixed-parameter SOFTMAX of test_softmax_large_number passes)",
};

const EXPECTED_PASS_FILE = new URL('./expected-pass-tflite-int8.txt', import.meta.url);
const expectedPass = new Set(expectedPassRows(EXPECTED_PASS_FILE));

const cases: ConformanceCase[] = conformanceCases(SUITES);
const oracle = useTfliteOracle();
const reports = new Map(MODES.map((m) => [m, new ConformanceReport()]));
const written = new Map(MODES.map((m) => [m, 0]));
const notFloat = new Map(MODES.map((m) => [m, 0]));
const table: string[] = [];
const t0 = Date.now();

/** Why a case that ran is wrong, or undefined. */
function problems(r: Extract<CaseOutcome, { kind: 'ran' }>, mode: Mode): string | undefined {
  const out: string[] = [];
  for (const o of r.outputs) {
    const slack = o.scale === undefined ? LSB_INTEGER : LSB_FLOAT;
    if (!(o.lsb <= slack)) out.push(`output '${o.name}': nnport's integer runtime is ${o.lsb} steps from the interpreter (at most ${slack})`);
    const lut = mode === 'int16x8' ? Math.max(0, ...r.ops.map((op) => LUT16_STEPS[op] ?? 0)) : 0;
    const bound = (Number.isNaN(o.inputSteps) ? 0 : o.inputSteps) + ROUNDING_STEPS * o.stages + o.weightSteps + lut;
    if (o.scale !== undefined && !(o.errSteps <= bound)) out.push(`output '${o.name}': ${o.errSteps.toFixed(2)} steps from the expected output, bound ${bound.toFixed(2)} (input rounding ${o.inputSteps.toFixed(2)} + ${ROUNDING_STEPS}·${o.stages} stages + weights ${o.weightSteps.toFixed(2)} + 16-bit table ${lut.toFixed(2)}); SNR ${o.snrDb.toFixed(1)} dB`);
  }
  return out.length ? out.join('\n') : undefined;
}

for (const mode of MODES) {
  const report = reports.get(mode)!;
  describe(mode, () => {
    for (const c of cases) {
      const id = `${mode}/${c.suite}/${c.name}`;
      test(`${c.suite}/${c.name}`, async (ctx) => {
        let r: CaseOutcome;
        try {
          r = await runInt8Case(c, mode, oracle, SEED);
        } catch (e) {
          // the interpreter refused or failed on a written file
          r = { kind: 'crash', message: `written, but: ${e instanceof Error ? e.message : String(e)}` };
          written.set(mode, written.get(mode)! + 1);
        }
        if (r.kind === 'ran') written.set(mode, written.get(mode)! + 1);
        if (r.kind === 'not-float' || r.kind === 'load-failed') {
          notFloat.set(mode, notFloat.get(mode)! + 1);
          if (expectedPass.has(id)) expect.fail(`on the expected-pass list but not run: ${'reason' in r ? r.reason : r.message}`);
          ctx.skip(`not a float graph: ${'reason' in r ? r.reason : r.message}`);
          return;
        }
        if (r.kind === 'refused') {
          report.record(id, { kind: 'unsupported-feature', reason: `${r.error}: ${r.message.split(':').slice(0, 3).join(':')}` });
          if (expectedPass.has(id)) expect.fail(`on the expected-pass list but refused: ${r.message}`);
          ctx.skip(r.message);
          return;
        }
        const wrong = r.kind === 'crash' ? r.message : problems(r, mode);
        if (r.kind === 'ran') for (const o of r.outputs) table.push(`${id} ${o.name}: integer runtime ${o.lsb <= 1e-9 ? 0 : o.lsb.toFixed(3)} LSB; ${o.errSteps.toFixed(2)} steps from expected (input ${Number.isNaN(o.inputSteps) ? '-' : o.inputSteps.toFixed(2)}, weights ${o.weightSteps.toFixed(2)}); SNR ${o.snrDb.toFixed(1)} dB`);
        if (wrong && KNOWN[id]) {
          report.record(id, { kind: 'expected-failure', reason: KNOWN[id]! });
          ctx.skip(KNOWN[id]);
          return;
        }
        report.record(id, wrong ? { kind: 'fail', message: wrong } : { kind: 'pass' });
        if (wrong) expect.fail(wrong);
        expect(wrong).toBeUndefined();
      });
    }
  });
}

expectedPassTest(EXPECTED_PASS_FILE, 'int8 / int16x8 TFLite of the ONNX backend cases that pass (see tflite-int8.test.ts)', () => MODES.flatMap((m) => reports.get(m)!.passed));

afterAll(() => {
  const lines = [`=== full-integer TFLite conformance (${((Date.now() - t0) / 1000).toFixed(0)} s) ===`];
  for (const mode of MODES) {
    const r = reports.get(mode)!;
    lines.push(`${mode}: ${written.get(mode)} written, ${r.passed.length} within 1 LSB and the bound, ${r.failed.length} failed, ${r.unsupportedFeature.length} refused, ${r.expectedFailures.length} known, ${notFloat.get(mode)} not float graphs`);
    lines.push(r.summary(`${mode} TFLite`));
  }
  lines.push('per case (interpreter vs nnport integer runtime; dequantized interpreter output vs expected, in output steps):', ...table);
  console.log(lines.join('\n'));
});

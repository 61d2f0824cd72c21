// The ONNX backend test data (libonnx-testdata) written as .tflite by nnport and run by the REAL
// TFLite interpreter (tfjs-tflite in headless Chromium, one browser for the whole file): each
// written file must compute the case's expected outputs, which were made independently of nnport.
//
// Every case is read with nnport and converted with `convert(model, 'm.tflite')`:
// - float32 with the default channels-last I/O (what a user gets: inputs and outputs that reach a
//   spatial op are NHWC; the feeds are transposed in and the outputs back). A case whose written
//   I/O shape cannot tell the two layouts apart (e.g. C = H = W) is checked through keepNchwIo alone;
// - float32 with keepNchwIo (the file keeps the ONNX layout), for every graph the layout pass re-lays;
// - float16 weights (`quantize: { mode: 'float16' }`) where that file differs from the float32 one.
// A case the writer refuses must be refused with an UnsupportedError naming the op or feature; a
// file the interpreter runs to another result is a failure (a silently wrong model).
//
// expected-pass-tflite.txt (committed) lists every case that passes, per mode: one of them that
// fails, is refused or goes missing fails the run. Regenerate with
// NNPORT_CONFORMANCE_WRITE=1 npx vitest run --config vitest.conformance.config.ts test/conformance/tflite-writer.test.ts
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { convert, loadModelFiles } from '../../src/index.js';
import { NnportError, UnsupportedError } from '../../src/ir/errors.js';
import type { DType } from '../../src/ir/dtypes.js';
import type { Node } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import type { LoadedModel } from '../../src/formats/model.js';
import { channelsLastPerm, needsChannelsLast } from '../../src/passes/layout.js';
import { tensorFromNumbers } from '../../src/runtime/ops/args.js';
import type { OracleArray, OracleTensor } from '../support/tflite-oracle.js';
import { useTfliteOracle } from '../support/tflite-test.js';
import { BACKEND_SUITES, describeBySuite, compareTensors, type ConformanceCase, conformanceCases, ConformanceReport, type DataSet, expectedPassRows, expectedPassTest, loadDataSets, WRITE_EXPECTED } from './harness.js';
import { int32Io, inverse, layoutOf, type Mode, permute, sameBytes, toleranceFor } from './tflite-writer-run.js';

const SUITES = BACKEND_SUITES;

/**
 * Cases whose written file is right but the interpreter computes something else (its own bug or
 * limit), with the evidence; they are run, and listed, never counted as passes.
 */
const KNOWN: Record<string, string> = {
  // ONNX counts negative indices from the end; constant ones are written wrapped, but TF's GATHER takes none (nor does TF's converter wrap them)
  test_gather_negative_indices: "negative Gather indices fed at run time: TFLite's GATHER fails the invoke on them ('indices_has_only_positive_elements'), an error rather than a wrong result",
};

/**
 * Cases whose written file computes something else today, per mode ('float32/node/test_x'), each
 * with the writer bug: run and reported, not counted as passes. A fix takes its cases off; one
 * that passes while listed fails the run.
 */
const WRITER_BUGS: Record<string, string> = {};

const EXPECTED_PASS_FILE = new URL('./expected-pass-tflite.txt', import.meta.url);
const expectedPass = new Set(expectedPassRows(EXPECTED_PASS_FILE));

const cases = conformanceCases(SUITES);
const reports: Record<Mode, ConformanceReport> = { float32: new ConformanceReport(), float16: new ConformanceReport() };
const written: Record<Mode, number> = { float32: 0, float16: 0 };
const known: Array<[string, string]> = [];
const bugs: Array<[string, string]> = [];
let nhwcRuns = 0;
let nchwRuns = 0;
let ambiguous = 0;
const oracle = useTfliteOracle();

const ARRAY_OF: Record<string, (n: number) => OracleArray> = {
  float32: (n) => new Float32Array(n),
  int32: (n) => new Int32Array(n),
  int8: (n) => new Int8Array(n),
  uint8: (n) => new Uint8Array(n),
  bool: (n) => new Uint8Array(n),
  int16: (n) => new Int16Array(n),
  uint32: (n) => new Uint32Array(n),
  float64: (n) => new Float64Array(n),
};

/** Numbers of `t` as the interpreter's `dtype` wants them; undefined when a value does not fit. */
function feedFor(t: Tensor, dtype: string): OracleArray | undefined {
  if (t.dtype === 'string') return undefined;
  const make = ARRAY_OF[dtype];
  if (!make) return undefined;
  if (t.dtype === 'float32' && dtype === 'float32') return t.data as Float32Array;
  const values = t.toNumbers();
  const out = make(values.length);
  for (let i = 0; i < values.length; i++) {
    out[i] = values[i]!;
    if (dtype !== 'float32' && out[i] !== values[i] && !(Number.isNaN(out[i]!) && Number.isNaN(values[i]!))) return undefined;
  }
  return out;
}

/** The interpreter's output as a tensor of the expected dtype (an int32 index output as the int64 ONNX declares). */
function resultAs(r: OracleTensor, dtype: DType): Tensor {
  const values = Array.from(r.data as ArrayLike<number>);
  if (dtype === 'bool' || r.dtype === dtype || (['int64', 'int32', 'int16', 'int8', 'uint8', 'uint16', 'uint32', 'uint64'].includes(dtype) && r.dtype !== 'float32' && r.dtype !== 'float64')) {
    return tensorFromNumbers(dtype, r.shape, values);
  }
  // a float output where ONNX has another float type: kept as it came (a float16 model computes in float32, see expectedAs)
  return tensorFromNumbers(r.dtype === 'float64' ? 'float64' : 'float32', r.shape, values);
}

/**
 * A float16 model's file computes in float32 with float32 I/O (documented: convert's note says
 * so): its float16 expected outputs are compared as float32, within the harness' 1e-3 relative
 * tolerance (twice float16's 2^-11 rounding).
 */
function expectedAs(expected: Tensor, actual: Tensor): Tensor {
  return expected.dtype === 'float16' && actual.dtype === 'float32' ? Tensor.float32(expected.shape, expected.toNumbers()) : expected;
}

type Outcome = { kind: 'pass' } | { kind: 'fail'; message: string } | { kind: 'refused'; reason: string } | { kind: 'ambiguous' } | { kind: 'same-file' };

/** Run a written file over every data set and compare its outputs with the expected ones. */
async function check(c: ConformanceCase, model: LoadedModel, file: Uint8Array, sets: DataSet[], mode: Mode, relaid: boolean, allowAmbiguous: boolean): Promise<Outcome> {
  if (model.kind !== 'graph') return { kind: 'fail', message: 'not a graph' };
  const g = model.graph;
  const gInputs = g.inputs.filter((v) => !g.initializers.has(v.name));
  const described = await oracle.inputs(file);
  const problems: string[] = [];
  for (const set of sets) {
    if (described.length !== set.inputs.length) return { kind: 'fail', message: `the file has ${described.length} inputs, the case feeds ${set.inputs.length}` };
    const feeds: ArrayBufferView[] = [];
    for (const [i, t] of set.inputs.entries()) {
      const want = described[i]!;
      const how = layoutOf(t.shape, want.shape, relaid);
      if (how === 'ambiguous') {
        if (allowAmbiguous) return { kind: 'ambiguous' };
        return { kind: 'fail', message: `input ${i}: layout of [${want.shape.join(', ')}] ambiguous` };
      }
      if (how === 'mismatch') return { kind: 'fail', message: `input ${i} '${gInputs[i]?.name}': the file wants [${want.shape.join(', ')}] ${want.dtype}, the case feeds [${t.shape.join(', ')}] ${t.dtype}` };
      let feed = feedFor(t, want.dtype);
      if (!feed) return { kind: 'fail', message: `input ${i}: the file wants ${want.dtype}, the case feeds ${t.dtype} values that do not fit` };
      if (how === 'channels-last') {
        if (!ARRAY_OF[want.dtype]) return { kind: 'fail', message: `input ${i}: a channels-last ${t.dtype} input` };
        feed = permute(feed, t.shape, channelsLastPerm(t.rank), ARRAY_OF[want.dtype]!(t.size));
      }
      feeds.push(feed);
    }
    const results = await oracle.run(file, feeds);
    if (results.length !== set.outputs.length) return { kind: 'fail', message: `the file has ${results.length} outputs, the case expects ${set.outputs.length}` };
    for (const [i, expected] of set.outputs.entries()) {
      const r = results[i]!;
      const how = layoutOf(expected.shape, r.shape, relaid);
      if (how === 'ambiguous') {
        if (allowAmbiguous) return { kind: 'ambiguous' };
        problems.push(`${set.name}: output ${i}: layout of [${r.shape.join(', ')}] ambiguous`);
        continue;
      }
      let actual = resultAs(r, expected.dtype);
      if (how === 'channels-last') {
        const perm = inverse(channelsLastPerm(expected.rank));
        const values = actual.toNumbers();
        actual = tensorFromNumbers(actual.dtype, expected.shape, permute(values, r.shape, perm, new Array<number>(values.length)));
      }
      const diff = compareTensors(actual, expectedAs(expected, actual), toleranceFor(mode, expected));
      if (diff) problems.push(`${set.name}: output ${i} '${g.outputs[i]?.name}': ${diff}`);
    }
  }
  return problems.length ? { kind: 'fail', message: problems.join('\n') } : { kind: 'pass' };
}

/** A refusal: an UnsupportedError's message; any other error (a GraphError from a pass, a TypeError) is a failure. */
function refusal(e: unknown): Outcome {
  if (e instanceof UnsupportedError) return { kind: 'refused', reason: `${e.name}: ${e.message.split('\n')[0]}` };
  if (e instanceof NnportError) return { kind: 'fail', message: `refused with ${e.name}, not UnsupportedError: ${e.message}` };
  return { kind: 'fail', message: `untyped error: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}` };
}

/** Write the case in `mode` and check the file (and its keepNchwIo form where the layout pass re-lays the graph). */
async function runMode(c: ConformanceCase, model: LoadedModel, sets: DataSet[], mode: Mode, float32File?: Uint8Array): Promise<{ outcome: Outcome; file?: Uint8Array }> {
  const quantize = mode === 'float16' ? { mode: 'float16' as const } : undefined;
  let nhwc: Uint8Array;
  try {
    nhwc = (await convert(model, 'm.tflite', { quantize })).bytes;
  } catch (e) {
    return { outcome: refusal(e) };
  }
  if (float32File && sameBytes(nhwc, float32File)) return { outcome: { kind: 'same-file' } };
  written[mode]++;
  return { outcome: await checkWritten(c, model, sets, mode, nhwc), file: nhwc };
}

async function checkWritten(c: ConformanceCase, model: LoadedModel, sets: DataSet[], mode: Mode, nhwc: Uint8Array): Promise<Outcome> {
  const quantize = mode === 'float16' ? { mode: 'float16' as const } : undefined;
  const relaid = model.kind === 'graph' && needsChannelsLast(model.graph);
  const first = await check(c, model, nhwc, sets, mode, relaid, relaid).catch((e: unknown) => ({ kind: 'fail' as const, message: `interpreter: ${e instanceof Error ? e.message : String(e)}` }));
  if (first.kind === 'fail') return first;
  if (first.kind === 'ambiguous') ambiguous++;
  else nhwcRuns++;
  if (!relaid) return first;
  let nchw: Uint8Array;
  try {
    nchw = (await convert(model, 'm.tflite', { quantize, keepNchwIo: true })).bytes;
  } catch (e) {
    return { kind: 'fail', message: `written with channels-last I/O, but keepNchwIo: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` };
  }
  nchwRuns++;
  const second = await check(c, model, nchw, sets, mode, false, false).catch((e: unknown) => ({ kind: 'fail' as const, message: `interpreter (keepNchwIo): ${e instanceof Error ? e.message : String(e)}` }));
  return second.kind === 'fail' ? { kind: 'fail', message: `keepNchwIo: ${second.message}` } : second;
}

const outcomes: string[] = [];

/** Tally an outcome; what makes the case fail, if anything. */
function record(mode: Mode, id: string, name: string, outcome: Outcome): string | undefined {
  const report = reports[mode];
  outcomes.push(`${mode} ${id} ${outcome.kind} ${'message' in outcome ? outcome.message : 'reason' in outcome ? outcome.reason : ''}`.replace(/\n/g, ' | '));
  const key = `${mode}/${id}`;
  if (outcome.kind === 'same-file') return undefined;
  const why = (mode === 'float32' ? KNOWN[name] : undefined) ?? WRITER_BUGS[key];
  if (outcome.kind === 'refused') {
    report.record(id, { kind: 'unsupported-feature', reason: outcome.reason });
    if (expectedPass.has(key)) return `${mode}: on expected-pass-tflite.txt but refused: ${outcome.reason}`;
    if (why) return `${mode}: listed (${why}) but refused: take it off the list`;
    return undefined;
  }
  if (why) {
    if (KNOWN[name]) known.push([id, why]);
    else bugs.push([key, why]);
    report.record(id, { kind: 'expected-failure', reason: why });
    return outcome.kind === 'fail' ? undefined : `${mode}: listed (${why}) but passes: take it off the list`;
  }
  report.record(id, outcome.kind === 'ambiguous' ? { kind: 'pass' } : outcome);
  return outcome.kind === 'fail' ? `${mode}: ${outcome.message}` : undefined;
}

describeBySuite(cases, (c) => {
  const id = `${c.suite}/${c.name}`;
  test(c.name, async () => {
    let model: LoadedModel;
    try {
      model = int32Io(await loadModelFiles([join(c.dir, 'model.onnx')]));
    } catch (e) {
      const r = refusal(e);
      const problem = record('float32', id, c.name, r.kind === 'refused' ? { kind: 'refused', reason: `reader: ${r.reason}` } : r);
      return expect(problem, 'reading the case').toBeUndefined();
    }
    const sets = loadDataSets(c.dir, model.kind === 'graph' ? model.graph : undefined);
    expect(sets.length, 'test_data_set_* directories').toBeGreaterThan(0);
    const f32 = await runMode(c, model, sets, 'float32');
    // float16 weights where float32 wrote a file: checked where that file differs (it has float weights)
    const f16 = f32.file ? await runMode(c, model, sets, 'float16', f32.file) : undefined;
    const problems = [record('float32', id, c.name, f32.outcome), f16 && record('float16', id, c.name, f16.outcome)].filter(Boolean);
    expect(problems.join('\n') || undefined).toBeUndefined();
  });
});

expectedPassTest(EXPECTED_PASS_FILE, 'ONNX backend cases whose .tflite the interpreter runs to the expected outputs, per mode (see tflite-writer.test.ts)', () =>
  (['float32', 'float16'] as const).flatMap((m) => reports[m].passed.map((id) => `${m}/${id}`)),
);

afterAll(() => {
  if (process.env.NNPORT_TFLITE_LOG) writeFileSync(process.env.NNPORT_TFLITE_LOG, outcomes.join('\n') + '\n');
  for (const mode of ['float32', 'float16'] as const) {
    console.log(`written ${written[mode]}`);
    console.log(reports[mode].summary(`TFLite writer, ${mode}${mode === 'float16' ? ' weights (cases whose file differs from float32)' : ''}`));
  }
  console.log(`channels-last I/O runs ${nhwcRuns}, keepNchwIo runs ${nchwRuns}, channels-last I/O ambiguous (keepNchwIo only) ${ambiguous}; known interpreter issues ${known.length}, open writer bugs ${bugs.length}`);
  for (const [key, why] of bugs) console.log(`  writer bug ${key}: ${why}`);
});

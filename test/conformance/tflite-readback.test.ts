// Read-back of the ONNX backend test cases nnport writes as .tflite: every file tflite-writer.test.ts
// writes (float32 with channels-last I/O and with keepNchwIo, float16 weights where that file
// differs) is read by nnport's own TFLite reader (loadModel on the bytes) and run by nnport's
// runtime on the case's inputs, laid out as the file's inputs declare them, and compared with the
// case's expected outputs: the ONNX test data, not nnport's own output, is the reference. The
// files themselves are checked against the real TFLite interpreter by tflite-writer.test.ts; here
// the reader is, on files that use the builtin ops as TF's converter writes them.
//
// Each graph read back is also written as ONNX (convert(back, 'm.onnx'): what a user converting a
// .tflite to ONNX gets) and run by onnxruntime on the same inputs, compared with the same expected
// outputs: the reader's graph is then checked by a runtime independent of nnport too. A case whose
// ONNX onnxruntime has no kernel for (int16 Max) is listed, not failed.
//
// A written file the reader cannot read or nnport's runtime cannot run must be refused with an
// UnsupportedError naming the op or feature; any other error, or a read-back whose outputs differ,
// fails. expected-pass-tflite-readback.txt (committed) lists every case and mode read back and
// matching: one that fails, is refused or goes missing fails the run. Regenerate it with
// NNPORT_CONFORMANCE_WRITE=1 npx vitest run --config vitest.conformance.config.ts test/conformance/tflite-readback.test.ts
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, test } from 'vitest';
import { convert, loadModel, loadModelFiles } from '../../src/index.js';
import { NnportError, UnsupportedError } from '../../src/ir/errors.js';
import type { DType } from '../../src/ir/dtypes.js';
import type { Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import type { LoadedModel } from '../../src/formats/model.js';
import { channelsLastPerm, needsChannelsLast } from '../../src/passes/layout.js';
import { runGraph } from '../../src/runtime/executor.js';
import { initKernels } from '../../src/wasm/loader.js';
import { compareTensors, type ConformanceCase, conformanceCases, type DataSet, expectedPassRows, expectedPassTest, loadDataSets } from './harness.js';
import { castTo, permuteAxes } from './graphdef-writer-run.js';
import { int32Io, inverse, layoutOf, type Mode, sameBytes, toleranceFor } from './tflite-writer-run.js';

const SUITES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'] as const;
const MODES: readonly Mode[] = ['float32', 'float16'];

/** Cases whose expected outputs no inference graph can reproduce. */
const NOT_COMPARABLE: Record<string, string> = {
  test_training_dropout: 'training-mode Dropout draws a random mask',
  test_training_dropout_default: 'training-mode Dropout draws a random mask',
  test_training_dropout_default_mask: 'training-mode Dropout draws a random mask',
  test_training_dropout_mask: 'training-mode Dropout draws a random mask',
  test_cast_FLOAT_to_BFLOAT16: 'expected output truncates float32 to bfloat16 instead of rounding to nearest even',
  test_castlike_FLOAT_to_BFLOAT16: 'expected output truncates float32 to bfloat16 instead of rounding to nearest even',
  test_castlike_FLOAT_to_BFLOAT16_expanded: 'expected output truncates float32 to bfloat16 instead of rounding to nearest even',
};

const EXPECTED_PASS_FILE = new URL('./expected-pass-tflite-readback.txt', import.meta.url);
const expectedPass = new Set(expectedPassRows(EXPECTED_PASS_FILE));

type Outcome =
  | { kind: 'pass' }
  | { kind: 'not-written'; reason: string }
  | { kind: 'same-file'; reason: string }
  | { kind: 'not-comparable'; reason: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'ambiguous' }
  | { kind: 'fail'; message: string };

/** The ONNX written from a read-back graph, run by onnxruntime. */
type OnnxOutcome = { kind: 'pass' } | { kind: 'no-kernel'; reason: string } | { kind: 'refused'; reason: string } | { kind: 'fail'; message: string };

const ORT_TYPES: Partial<Record<DType, ort.Tensor.Type>> = { float32: 'float32', float16: 'float16', int32: 'int32', int64: 'int64', int16: 'int16', int8: 'int8', uint8: 'uint8', uint16: 'uint16', uint32: 'uint32', bool: 'bool' };

function toOrt(t: Tensor): ort.Tensor {
  const type = ORT_TYPES[t.dtype];
  if (!type) throw new Error(`no onnxruntime tensor type for ${t.dtype}`);
  return new ort.Tensor(type, t.data as Float32Array, [...t.shape]);
}

function fromOrt(o: ort.Tensor): Tensor {
  const dtype = (Object.entries(ORT_TYPES).find(([, v]) => v === o.type)?.[0] ?? 'float32') as DType;
  if (dtype === 'bool') return new Tensor('bool', [...o.dims], Uint8Array.from(o.data as ArrayLike<number | boolean>, Number));
  return new Tensor(dtype, [...o.dims], o.data as Float32Array);
}

/** An onnxruntime session of the read-back graph written as ONNX, or why there is none. */
async function onnxSession(back: LoadedModel): Promise<ort.InferenceSession | OnnxOutcome> {
  let bytes: Uint8Array;
  try {
    bytes = (await convert(back, 'm.onnx')).bytes;
  } catch (e) {
    const r = refusal(e, 'the read-back written as ONNX');
    return r.kind === 'refused' ? r : { kind: 'fail', message: (r as { message: string }).message };
  }
  try {
    return await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  } catch (e) {
    const m = message(e);
    if (/Could not find an implementation/.test(m)) return { kind: 'no-kernel', reason: m.split('\n')[0]!.slice(0, 200) };
    return { kind: 'fail', message: `onnxruntime refuses the read-back written as ONNX: ${m}` };
  }
}

const FLOATS: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16'];
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** A read or run that threw: an UnsupportedError refuses, anything else fails. */
function refusal(e: unknown, where: string): Outcome {
  if (e instanceof UnsupportedError) return { kind: 'refused', reason: `${where}: ${e.message.split('\n')[0]}` };
  return { kind: 'fail', message: `${where} threw ${e instanceof NnportError ? e.name : 'an untyped error'}, not an UnsupportedError: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` };
}

/** Dims of a read value (a symbolic one as -1). */
const dimsOf = (shape: readonly (number | string | null)[] | undefined): number[] | undefined => shape?.map((d) => (typeof d === 'number' ? d : -1));

/** The read-back's output in the expected's layout and dtype, or why it cannot be. */
function align(y: Tensor, e: Tensor, relaid: boolean, allowAmbiguous: boolean): Tensor | string | 'ambiguous' {
  const how = layoutOf(e.shape, y.shape, relaid);
  if (how === 'ambiguous') return allowAmbiguous ? 'ambiguous' : `layout of [${y.shape.join(', ')}] ambiguous`;
  if (how === 'mismatch') return `shape [${y.shape.join(', ')}], expected [${e.shape.join(', ')}]`;
  const t = how === 'channels-last' ? permuteAxes(y, inverse(channelsLastPerm(e.rank))) : y;
  if (FLOATS.includes(e.dtype)) return FLOATS.includes(t.dtype) ? castTo(t, 'float32') : `dtype ${t.dtype}, expected ${e.dtype}`;
  if (FLOATS.includes(t.dtype) && t.toNumbers().some((v) => !Number.isInteger(v))) return `non-integer values for a ${e.dtype} output`;
  return castTo(t, e.dtype);
}

/** Read a written file back, run it over every data set and compare with the expected outputs. */
async function check(c: ConformanceCase, file: Uint8Array, sets: DataSet[], mode: Mode, relaid: boolean, allowAmbiguous: boolean): Promise<Checked> {
  let back: LoadedModel;
  try {
    back = await loadModel(file, { fileName: `${c.name}.tflite` });
  } catch (e) {
    return { outcome: refusal(e, 'reader') };
  }
  if (back.kind !== 'graph' || back.format !== 'tflite') return { outcome: { kind: 'fail', message: `read back as a ${back.format} ${back.kind}` } };
  const made = await onnxSession(back);
  const session = 'kind' in made ? undefined : made;
  try {
    const r = await checkGraph(back.graph, session, sets, mode, relaid, allowAmbiguous);
    return { outcome: r.outcome, onnx: 'kind' in made ? made : r.onnx };
  } finally {
    await session?.release();
  }
}

interface Checked {
  outcome: Outcome;
  /** the read-back written as ONNX and run by onnxruntime; undefined where there was nothing to write */
  onnx?: OnnxOutcome;
}

/** The read-back graph run by nnport (and its ONNX by onnxruntime) over every data set. */
async function checkGraph(g: Graph, session: ort.InferenceSession | undefined, sets: DataSet[], mode: Mode, relaid: boolean, allowAmbiguous: boolean): Promise<{ outcome: Outcome; onnx?: OnnxOutcome }> {
  const fail = (message: string) => ({ outcome: { kind: 'fail', message } as Outcome });
  const inputs = g.inputs.filter((v) => !g.initializers.has(v.name));
  const problems: string[] = [];
  const onnxProblems: string[] = [];
  for (const set of sets) {
    if (inputs.length !== set.inputs.length) return fail(`read back with ${inputs.length} inputs, the case feeds ${set.inputs.length}`);
    const feeds = new Map<string, Tensor>();
    for (const [i, t] of set.inputs.entries()) {
      const v = inputs[i]!;
      const dims = dimsOf(v.shape) ?? [...t.shape];
      const how = layoutOf(t.shape, dims.map((d, k) => (d === -1 ? t.shape[k]! : d)), relaid);
      if (how === 'ambiguous') {
        if (allowAmbiguous) return { outcome: { kind: 'ambiguous' } };
        return fail(`input ${i}: layout of [${dims.join(', ')}] ambiguous`);
      }
      if (how === 'mismatch') return fail(`input ${i} '${v.name}': read back as [${dims.join(', ')}] ${v.dtype}, the case feeds [${t.shape.join(', ')}] ${t.dtype}`);
      let x: Tensor = how === 'channels-last' ? permuteAxes(t, channelsLastPerm(t.rank)) : t;
      if (v.dtype && v.dtype !== x.dtype) {
        if (v.dtype === 'bfloat16' && x.dtype === 'uint16') x = new Tensor('bfloat16', x.shape, x.data);
        else x = castTo(x, v.dtype);
      }
      feeds.set(v.name, x);
    }
    let outs: ReadonlyMap<string, Tensor>;
    try {
      outs = (await runGraph(g, feeds)).outputs;
    } catch (e) {
      return { outcome: refusal(e, `${set.name}: nnport's runtime on the read-back graph`) };
    }
    if (g.outputs.length !== set.outputs.length) return fail(`read back with ${g.outputs.length} outputs, the case expects ${set.outputs.length}`);
    let theirs: ort.InferenceSession.OnnxValueMapType | undefined;
    if (session) {
      try {
        theirs = await session.run(Object.fromEntries(session.inputNames.map((n, i) => [n, toOrt(feeds.get(inputs[i]!.name)!)])));
      } catch (e) {
        onnxProblems.push(`${set.name}: onnxruntime: ${message(e).split('\n')[0]}`);
      }
    }
    for (const [k, expected] of set.outputs.entries()) {
      const name = g.outputs[k]!.name;
      const e = FLOATS.includes(expected.dtype) && expected.dtype !== 'float32' ? castTo(expected, 'float32') : expected;
      const compare = (y: Tensor | undefined, into: string[]) => {
        if (!y) return into.push(`${set.name}: output ${k} '${name}' not produced`);
        const a = align(y, expected, relaid, allowAmbiguous);
        if (a === 'ambiguous') return 'ambiguous';
        if (typeof a === 'string') return into.push(`${set.name}: output ${k} '${name}': ${a}`);
        const diff = compareTensors(a, e, toleranceFor(mode, expected));
        if (diff) into.push(`${set.name}: output ${k} '${name}': ${diff}`);
      };
      if (compare(outs.get(name), problems) === 'ambiguous') return { outcome: { kind: 'ambiguous' } };
      if (theirs) {
        const o = theirs[session!.outputNames[k]!];
        compare(o && fromOrt(o), onnxProblems);
      }
    }
  }
  const onnx: OnnxOutcome | undefined = !session ? undefined : onnxProblems.length ? { kind: 'fail', message: onnxProblems.join('\n') } : { kind: 'pass' };
  return { outcome: problems.length ? { kind: 'fail', message: problems.join('\n') } : { kind: 'pass' }, onnx };
}

let ambiguous = 0;
let nchwFiles = 0;
const written: Record<Mode, number> = { float32: 0, float16: 0 };

/** The worse of two ONNX outcomes (a failure over a refusal over a missing kernel over a pass). */
const RANK: Record<OnnxOutcome['kind'], number> = { pass: 0, 'no-kernel': 1, refused: 2, fail: 3 };
const worse = (a: OnnxOutcome | undefined, b: OnnxOutcome | undefined): OnnxOutcome | undefined => (!a ? b : !b ? a : RANK[b.kind] > RANK[a.kind] ? b : a);

interface ReadBack {
  outcome: Outcome;
  onnx?: OnnxOutcome;
  file?: Uint8Array;
}

/** Write the case in `mode` as the writer suite does, and read back the file (and its keepNchwIo form where the layout pass re-lays the graph). */
async function readBack(c: ConformanceCase, model: LoadedModel, sets: DataSet[], mode: Mode, float32File?: Uint8Array): Promise<ReadBack> {
  const quantize = mode === 'float16' ? { mode: 'float16' as const } : undefined;
  let nhwc: Uint8Array;
  try {
    nhwc = (await convert(model, 'm.tflite', { quantize })).bytes;
  } catch (e) {
    return { outcome: { kind: 'not-written', reason: message(e).split('\n')[0]! } };
  }
  if (float32File && sameBytes(nhwc, float32File)) return { outcome: { kind: 'same-file', reason: 'the float16 file is the float32 one' } };
  written[mode]++;
  const relaid = model.kind === 'graph' && needsChannelsLast(model.graph);
  const first = await check(c, nhwc, sets, mode, relaid, relaid);
  if (first.outcome.kind !== 'pass' && first.outcome.kind !== 'ambiguous') return { ...first, file: nhwc };
  if (first.outcome.kind === 'ambiguous') ambiguous++;
  if (!relaid) return { ...first, file: nhwc };
  let nchw: Uint8Array;
  try {
    nchw = (await convert(model, 'm.tflite', { quantize, keepNchwIo: true })).bytes;
  } catch (e) {
    return { outcome: { kind: 'fail', message: `written with channels-last I/O, but keepNchwIo: ${message(e)}` }, file: nhwc };
  }
  nchwFiles++;
  const second = await check(c, nchw, sets, mode, false, false);
  const onnx = worse(first.outcome.kind === 'ambiguous' ? undefined : first.onnx, second.onnx && (second.onnx.kind === 'fail' ? { kind: 'fail', message: `keepNchwIo: ${second.onnx.message}` } : second.onnx));
  const o = second.outcome;
  if (o.kind === 'fail') return { outcome: { kind: 'fail', message: `keepNchwIo: ${o.message}` }, onnx, file: nhwc };
  if (o.kind === 'refused') return { outcome: { kind: 'refused', reason: `keepNchwIo: ${o.reason}` }, onnx, file: nhwc };
  return { outcome: o, onnx, file: nhwc };
}

async function runCase(c: ConformanceCase): Promise<Record<Mode, ReadBack>> {
  const both = (o: Outcome): Record<Mode, ReadBack> => ({ float32: { outcome: o }, float16: { outcome: o } });
  if (NOT_COMPARABLE[c.name]) return both({ kind: 'not-comparable', reason: NOT_COMPARABLE[c.name]! });
  let model: LoadedModel;
  try {
    model = int32Io(await loadModelFiles([join(c.dir, 'model.onnx')]));
  } catch (e) {
    return both({ kind: 'not-written', reason: `not read from ONNX: ${message(e)}` });
  }
  const sets = loadDataSets(c.dir);
  const f32 = await readBack(c, model, sets, 'float32');
  const f16 = f32.file ? await readBack(c, model, sets, 'float16', f32.file) : { outcome: f32.outcome };
  return { float32: f32, float16: f16 };
}

const cases = conformanceCases(SUITES);
await initKernels();
/** 'mode/suite/case' -> the read-back run by nnport */
const outcomes = new Map<string, Outcome>();
/** 'mode-onnx/suite/case' -> the read-back written as ONNX, run by onnxruntime */
const onnxOutcomes = new Map<string, OnnxOutcome>();
for (const c of cases) {
  const r = await runCase(c).catch((e: unknown): Record<Mode, ReadBack> => {
    const o: Outcome = { kind: 'fail', message: `crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` };
    return { float32: { outcome: o }, float16: { outcome: o } };
  });
  for (const m of MODES) {
    outcomes.set(`${m}/${c.suite}/${c.name}`, r[m].outcome);
    if (r[m].onnx) onnxOutcomes.set(`${m}-onnx/${c.suite}/${c.name}`, r[m].onnx!);
  }
}

for (const mode of MODES) {
  describe(mode, () => {
    for (const suite of SUITES) {
      const mine = cases.filter((c) => c.suite === suite);
      if (!mine.length) continue;
      describe(suite, () => {
        for (const c of mine) {
          const id = `${mode}/${suite}/${c.name}`;
          const o = outcomes.get(id)!;
          if (o.kind === 'pass' || o.kind === 'ambiguous') test(c.name, () => expect(o.kind).not.toBe('fail'));
          else if (o.kind === 'fail') test(c.name, () => expect.fail(o.message));
          else if (expectedPass.has(id)) test(c.name, () => expect.fail(`on expected-pass-tflite-readback.txt but ${o.kind}: ${o.reason}`));
          else test.skip(`${c.name} [${o.kind}: ${o.reason.slice(0, 120)}]`, () => {});
        }
      });
    }
  });
  describe(`${mode}, the read-back written as ONNX, run by onnxruntime`, () => {
    for (const suite of SUITES) {
      const mine = cases.filter((c) => c.suite === suite && onnxOutcomes.has(`${mode}-onnx/${suite}/${c.name}`));
      if (!mine.length) continue;
      describe(suite, () => {
        for (const c of mine) {
          const id = `${mode}-onnx/${suite}/${c.name}`;
          const o = onnxOutcomes.get(id)!;
          if (o.kind === 'pass') test(c.name, () => expect(o.kind).toBe('pass'));
          else if (o.kind === 'fail') test(c.name, () => expect.fail(o.message));
          else if (expectedPass.has(id)) test(c.name, () => expect.fail(`on expected-pass-tflite-readback.txt but ${o.kind}: ${o.reason}`));
          else test.skip(`${c.name} [${o.kind}: ${o.reason.slice(0, 120)}]`, () => {});
        }
      });
    }
  });
}

const passes = (o: Outcome | OnnxOutcome | undefined) => o?.kind === 'pass' || o?.kind === 'ambiguous';
const allOutcomes = (): [string, Outcome | OnnxOutcome][] => [...outcomes, ...onnxOutcomes];

expectedPassTest(
  EXPECTED_PASS_FILE,
  "ONNX backend cases whose written .tflite nnport reads back and runs to the expected outputs, per mode ('<mode>-onnx/': the read-back written as ONNX, run by onnxruntime; see tflite-readback.test.ts)",
  () => allOutcomes().filter(([, o]) => passes(o)).map(([id]) => id),
  'was written, read back and passed',
);

afterAll(() => {
  const lines: string[] = [];
  const shortId = (id: string) => id.replace(/^[^/]+\/[^/]+\/(test_)?/, '');
  const byReason = (refused: [string, { reason: string }][]) => {
    const m = new Map<string, string[]>();
    for (const [id, o] of refused) {
      const key = o.reason.replace(/'[^']*'/g, "'…'").slice(0, 100);
      m.set(key, [...(m.get(key) ?? []), shortId(id)]);
    }
    return [...m].sort((a, b) => b[1].length - a[1].length).map(([r, ids]) => `  ${r} (${ids.length}): ${ids.slice(0, 12).join(', ')}${ids.length > 12 ? ', …' : ''}`);
  };
  for (const mode of MODES) {
    const mine = [...outcomes].filter(([id]) => id.startsWith(`${mode}/`));
    const by = (k: Outcome['kind']) => mine.filter(([, o]) => o.kind === k);
    const refused = by('refused') as [string, Extract<Outcome, { kind: 'refused' }>][];
    const failed = by('fail') as [string, Extract<Outcome, { kind: 'fail' }>][];
    lines.push(
      `=== TFLite read-back, ${mode}: ${written[mode]} written, ${mine.filter(([, o]) => passes(o)).length} read back and matching the expected outputs, ${failed.length} failed, ${refused.length} refused (UnsupportedError), ${by('not-written').length} not written, ${by('not-comparable').length} not comparable${mode === 'float16' ? `, ${by('same-file').length} same file as float32` : ''} ===`,
    );
    for (const [id, o] of failed) lines.push(`failed: ${id}: ${o.message.split('\n').slice(0, 2).join(' | ').slice(0, 300)}`);
    if (refused.length) lines.push('refused, by reason:', ...byReason(refused));
    const onnx = [...onnxOutcomes].filter(([id]) => id.startsWith(`${mode}-onnx/`));
    const oby = <K extends OnnxOutcome['kind']>(k: K) => onnx.filter(([, o]) => o.kind === k) as [string, Extract<OnnxOutcome, { kind: K }>][];
    lines.push(`  written as ONNX and run by onnxruntime: ${onnx.length}, ${oby('pass').length} matching, ${oby('fail').length} failed, ${oby('refused').length} refused by the ONNX writer, ${oby('no-kernel').length} with no onnxruntime kernel`);
    for (const [id, o] of oby('fail')) lines.push(`  failed: ${id}: ${o.message.split('\n').slice(0, 2).join(' | ').slice(0, 300)}`);
    for (const [id, o] of [...oby('refused'), ...oby('no-kernel')]) lines.push(`  ${id}: ${o.reason}`);
  }
  lines.push(`keepNchwIo files read back ${nchwFiles}; channels-last I/O ambiguous (keepNchwIo only) ${ambiguous}`);
  console.log(lines.join('\n'));
});

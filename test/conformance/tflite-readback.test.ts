// Read-back of the ONNX backend test cases nnport writes as .tflite: every file tflite-writer.test.ts
// writes (float32 with channels-last I/O and with keepNchwIo, float16 weights where that file
// differs) is read by nnport's own TFLite reader (loadModel on the bytes) and run by nnport's
// runtime on the case's inputs, laid out as the file's inputs declare them, and compared with the
// case's expected outputs: the ONNX test data, not nnport's own output, is the reference. The
// files themselves are checked against the real TFLite interpreter by tflite-writer.test.ts; here
// the reader is, on files that use the builtin ops as TF's converter writes them.
//
// Each graph read back is also written on, as a user converting a .tflite does, and run on the
// same inputs against the same expected outputs (rows '<mode>-onnx/…', '<mode>-pb/…'):
// - as ONNX (convert(back, 'm.onnx')), run by onnxruntime: the reader's graph checked by a runtime
//   independent of nnport; a model onnxruntime has no kernel for (int16 Max) is listed, not failed;
// - as a frozen GraphDef (convert(back, 'm.pb')), read by nnport's TensorFlow reader and run: the
//   reader's graph in the form the GraphDef writer takes (HWOI transposed-conv weights, explicit
//   pads). A writer's refusal (an op TF has no counterpart for) is listed by reason;
// - as a Keras .h5 (convert(back, 'm.h5')), read by nnport's Keras reader and run (Keras itself
//   needs TensorFlow): most cases are refused by the Keras writer (no Keras layer), listed by reason.
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
import { readGraphDefModel } from '../../src/formats/tensorflow/read.js';
import { channelsLastPerm, needsChannelsLast } from '../../src/passes/layout.js';
import { runGraph } from '../../src/runtime/executor.js';
import { initKernels } from '../../src/wasm/loader.js';
import { BACKEND_SUITES, describeBySuite, compareTensors, type ConformanceCase, conformanceCases, type DataSet, expectedPassRows, expectedPassTest, loadDataSets, NOT_COMPARABLE } from './harness.js';
import { castTo, permuteAxes, tfName } from './graphdef-writer-run.js';
import { int32Io, inverse, layoutOf, type Mode, sameBytes, toleranceFor } from './tflite-writer-run.js';

const SUITES = BACKEND_SUITES;
const MODES: readonly Mode[] = ['float32', 'float16'];


/**
 * Written-on models that compute something else today for a reason outside the TFLite reader
 * (its graph runs to the expected outputs in nnport and in the other legs), with the evidence: run
 * and listed, never counted as passes; one that passes while listed fails the run.
 */
const KERAS_READER_BATCH = "Keras reader: every input of the .h5 gets the same symbolic 'batch', and the unused 'like' input's is 1 where 'input's is 3";
const LEG_KNOWN: Record<string, string> = {
  'float32-h5/node/test_castlike_FLOAT16_to_FLOAT_expanded': KERAS_READER_BATCH,
  'float32-h5/node/test_castlike_FLOAT_to_FLOAT16_expanded': KERAS_READER_BATCH,
  'float32-h5/node/test_castlike_FLOAT16_to_FLOAT': KERAS_READER_BATCH,
  'float32-h5/node/test_castlike_FLOAT_to_FLOAT16': KERAS_READER_BATCH,
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

/** A read-back graph written on in another format and run there. */
type LegOutcome = { kind: 'pass' } | { kind: 'no-kernel'; reason: string } | { kind: 'refused'; reason: string } | { kind: 'fail'; message: string };

/** The written-on model: outputs (in the read-back's order) for inputs (in the read-back's order). */
interface Runner {
  run(inputs: Tensor[]): Promise<Array<Tensor | undefined>>;
  release(): Promise<void>;
}

interface Leg {
  id: 'onnx' | 'pb' | 'h5';
  title: string;
  open(g: Graph, back: LoadedModel): Promise<Runner | LegOutcome>;
}

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

/** A writer's or reader's error: an UnsupportedError refuses, anything else fails. */
function legRefusal(e: unknown, where: string): LegOutcome {
  const r = refusal(e, where);
  return r.kind === 'refused' ? r : { kind: 'fail', message: (r as { message: string }).message };
}

const LEGS: readonly Leg[] = [
  {
    // what `nnport convert m.tflite -o m.onnx` gives, run by a runtime independent of nnport
    id: 'onnx',
    title: 'written as ONNX, run by onnxruntime',
    async open(_g, back) {
      let bytes: Uint8Array;
      try {
        bytes = (await convert(back, 'm.onnx')).bytes;
      } catch (e) {
        return legRefusal(e, 'the ONNX writer');
      }
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
      } catch (e) {
        const m = message(e);
        if (/Could not find an implementation/.test(m)) return { kind: 'no-kernel', reason: m.split('\n')[0]!.slice(0, 200) };
        return { kind: 'fail', message: `onnxruntime refuses the read-back written as ONNX: ${m}` };
      }
      return {
        async run(inputs) {
          const out = await session.run(Object.fromEntries(session.inputNames.map((n, i) => [n, toOrt(inputs[i]!)])));
          return session.outputNames.map((n) => (out[n] ? fromOrt(out[n]) : undefined));
        },
        release: () => session.release(),
      };
    },
  },
  {
    // what `nnport convert m.tflite -o m.pb` gives, read by nnport's TensorFlow reader (its outputs named as a user names them)
    id: 'pb',
    title: "written as a GraphDef, read by nnport's TensorFlow reader and run",
    async open(g, back) {
      let bytes: Uint8Array;
      try {
        bytes = (await convert(back, 'm.pb')).bytes;
      } catch (e) {
        return legRefusal(e, 'the GraphDef writer');
      }
      let pb: LoadedModel;
      try {
        pb = await readGraphDefModel(bytes, { fileName: 'm.pb', outputs: g.outputs.map((o) => tfName(o.name)) });
      } catch (e) {
        return legRefusal(e, 'the TensorFlow reader');
      }
      if (pb.kind !== 'graph') return { kind: 'fail', message: `the .pb read as ${pb.kind}` };
      const fed = new Set(pb.graph.inputs.map((v) => v.name));
      const names = g.inputs.filter((v) => !g.initializers.has(v.name)).map((v) => tfName(v.name));
      return {
        async run(inputs) {
          const feeds = new Map(inputs.map((t, i) => [names[i]!, t] as const).filter(([n]) => fed.has(n)));
          const { outputs } = await runGraph(pb.graph, feeds);
          return g.outputs.map((o) => outputs.get(tfName(o.name)));
        },
        release: async () => {},
      };
    },
  },
  {
    // what `nnport convert m.tflite -o m.h5` gives, read by nnport's Keras reader (Keras itself needs TensorFlow)
    id: 'h5',
    title: "written as a Keras .h5, read by nnport's Keras reader and run",
    async open(g, back) {
      let bytes: Uint8Array;
      try {
        bytes = (await convert(back, 'm.h5')).bytes;
      } catch (e) {
        return legRefusal(e, 'the Keras writer');
      }
      let h5: LoadedModel;
      try {
        h5 = await loadModel(bytes, { fileName: 'm.h5' });
      } catch (e) {
        return legRefusal(e, 'the Keras reader');
      }
      if (h5.kind !== 'graph') return { kind: 'fail', message: `the .h5 read as ${h5.kind}` };
      const kg = h5.graph;
      const names = kg.inputs.filter((v) => !kg.initializers.has(v.name)).map((v) => v.name);
      if (names.length !== g.inputs.filter((v) => !g.initializers.has(v.name)).length || kg.outputs.length !== g.outputs.length) return { kind: 'fail', message: `the .h5 has ${names.length} inputs and ${kg.outputs.length} outputs` };
      return {
        async run(inputs) {
          const { outputs } = await runGraph(kg, new Map(inputs.map((t, i) => [names[i]!, t])));
          return kg.outputs.map((o) => outputs.get(o.name));
        },
        release: async () => {},
      };
    },
  },
];

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
    return { outcome: refusal(e, 'reader'), legs: {} };
  }
  if (back.kind !== 'graph' || back.format !== 'tflite') return { outcome: { kind: 'fail', message: `read back as a ${back.format} ${back.kind}` }, legs: {} };
  const g = back.graph;
  const opened = new Map<Leg['id'], Runner | LegOutcome>();
  for (const leg of LEGS) opened.set(leg.id, await leg.open(g, back).catch((e: unknown) => legRefusal(e, leg.title)));
  const runners = new Map([...opened].filter((e): e is [Leg['id'], Runner] => !('kind' in e[1])));
  try {
    const r = await checkGraph(g, runners, sets, mode, relaid, allowAmbiguous);
    for (const [id, o] of opened) if ('kind' in o) r.legs[id] = o;
    return r;
  } finally {
    for (const runner of runners.values()) await runner.release();
  }
}

interface Checked {
  outcome: Outcome;
  /** the read-back written on in each leg's format (none where it was not read back, or its layout was ambiguous) */
  legs: Partial<Record<Leg['id'], LegOutcome>>;
}

/** The read-back graph run by nnport (and each leg's model by its runtime) over every data set. */
async function checkGraph(g: Graph, runners: ReadonlyMap<Leg['id'], Runner>, sets: DataSet[], mode: Mode, relaid: boolean, allowAmbiguous: boolean): Promise<Checked> {
  const fail = (message: string): Checked => ({ outcome: { kind: 'fail', message }, legs: {} });
  const inputs = g.inputs.filter((v) => !g.initializers.has(v.name));
  const problems: string[] = [];
  const legProblems = new Map([...runners.keys()].map((id) => [id, [] as string[]]));
  for (const set of sets) {
    if (inputs.length !== set.inputs.length) return fail(`read back with ${inputs.length} inputs, the case feeds ${set.inputs.length}`);
    const feeds = new Map<string, Tensor>();
    for (const [i, t] of set.inputs.entries()) {
      const v = inputs[i]!;
      const dims = dimsOf(v.shape) ?? [...t.shape];
      const how = layoutOf(t.shape, dims.map((d, k) => (d === -1 ? t.shape[k]! : d)), relaid);
      if (how === 'ambiguous') {
        if (allowAmbiguous) return { outcome: { kind: 'ambiguous' }, legs: {} };
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
      return { outcome: refusal(e, `${set.name}: nnport's runtime on the read-back graph`), legs: {} };
    }
    if (g.outputs.length !== set.outputs.length) return fail(`read back with ${g.outputs.length} outputs, the case expects ${set.outputs.length}`);
    const theirs = new Map<Leg['id'], Array<Tensor | undefined>>();
    for (const [id, runner] of runners) {
      try {
        theirs.set(id, await runner.run(inputs.map((v) => feeds.get(v.name)!)));
      } catch (e) {
        legProblems.get(id)!.push(`${set.name}: ${e instanceof NnportError ? e.name : 'error'}: ${message(e).split('\n')[0]}`);
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
      if (compare(outs.get(name), problems) === 'ambiguous') return { outcome: { kind: 'ambiguous' }, legs: {} };
      for (const [id, ys] of theirs) compare(ys[k], legProblems.get(id)!);
    }
  }
  const legs: Checked['legs'] = {};
  for (const [id, p] of legProblems) legs[id] = p.length ? { kind: 'fail', message: p.join('\n') } : { kind: 'pass' };
  return { outcome: problems.length ? { kind: 'fail', message: problems.join('\n') } : { kind: 'pass' }, legs };
}

let ambiguous = 0;
let nchwFiles = 0;
const written: Record<Mode, number> = { float32: 0, float16: 0 };

/** The worse of two leg outcomes (a failure over a refusal over a missing kernel over a pass). */
const RANK: Record<LegOutcome['kind'], number> = { pass: 0, 'no-kernel': 1, refused: 2, fail: 3 };
const worse = (a: LegOutcome | undefined, b: LegOutcome | undefined): LegOutcome | undefined => (!a ? b : !b ? a : RANK[b.kind] > RANK[a.kind] ? b : a);

interface ReadBack extends Checked {
  file?: Uint8Array;
}

/** Write the case in `mode` as the writer suite does, and read back the file (and its keepNchwIo form where the layout pass re-lays the graph). */
async function readBack(c: ConformanceCase, model: LoadedModel, sets: DataSet[], mode: Mode, float32File?: Uint8Array): Promise<ReadBack> {
  const quantize = mode === 'float16' ? { mode: 'float16' as const } : undefined;
  let nhwc: Uint8Array;
  try {
    nhwc = (await convert(model, 'm.tflite', { quantize })).bytes;
  } catch (e) {
    return { outcome: { kind: 'not-written', reason: message(e).split('\n')[0]! }, legs: {} };
  }
  if (float32File && sameBytes(nhwc, float32File)) return { outcome: { kind: 'same-file', reason: 'the float16 file is the float32 one' }, legs: {} };
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
    return { outcome: { kind: 'fail', message: `written with channels-last I/O, but keepNchwIo: ${message(e)}` }, legs: {}, file: nhwc };
  }
  nchwFiles++;
  const second = await check(c, nchw, sets, mode, false, false);
  const legs: Checked['legs'] = {};
  for (const { id } of LEGS) {
    const l = second.legs[id];
    legs[id] = worse(first.legs[id], l?.kind === 'fail' ? { kind: 'fail', message: `keepNchwIo: ${l.message}` } : l);
  }
  const o = second.outcome;
  if (o.kind === 'fail') return { outcome: { kind: 'fail', message: `keepNchwIo: ${o.message}` }, legs, file: nhwc };
  if (o.kind === 'refused') return { outcome: { kind: 'refused', reason: `keepNchwIo: ${o.reason}` }, legs, file: nhwc };
  return { outcome: o, legs, file: nhwc };
}

async function runCase(c: ConformanceCase): Promise<Record<Mode, ReadBack>> {
  const both = (o: Outcome): Record<Mode, ReadBack> => ({ float32: { outcome: o, legs: {} }, float16: { outcome: o, legs: {} } });
  if (NOT_COMPARABLE[c.name]) return both({ kind: 'not-comparable', reason: NOT_COMPARABLE[c.name]! });
  let model: LoadedModel;
  try {
    model = int32Io(await loadModelFiles([join(c.dir, 'model.onnx')]));
  } catch (e) {
    return both({ kind: 'not-written', reason: `not read from ONNX: ${message(e)}` });
  }
  const sets = loadDataSets(c.dir, model.kind === 'graph' ? model.graph : undefined);
  const f32 = await readBack(c, model, sets, 'float32');
  const f16 = f32.file ? await readBack(c, model, sets, 'float16', f32.file) : { outcome: f32.outcome, legs: {} };
  return { float32: f32, float16: f16 };
}

const cases = conformanceCases(SUITES);
await initKernels();
/** 'mode/suite/case' -> the read-back run by nnport */
const outcomes = new Map<string, Outcome>();
/** 'mode-leg/suite/case' (float32-onnx/node/test_abs) -> the read-back written on in the leg's format */
const legOutcomes = new Map<string, LegOutcome>();
for (const c of cases) {
  const r = await runCase(c).catch((e: unknown): Record<Mode, ReadBack> => {
    const o: Outcome = { kind: 'fail', message: `crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` };
    return { float32: { outcome: o, legs: {} }, float16: { outcome: o, legs: {} } };
  });
  for (const m of MODES) {
    outcomes.set(`${m}/${c.suite}/${c.name}`, r[m].outcome);
    for (const { id } of LEGS) if (r[m].legs[id]) legOutcomes.set(`${m}-${id}/${c.suite}/${c.name}`, r[m].legs[id]!);
  }
}

for (const mode of MODES) {
  describe(mode, () => {
    describeBySuite(cases, (c) => {
      const id = `${mode}/${c.suite}/${c.name}`;
      const o = outcomes.get(id)!;
      if (o.kind === 'pass' || o.kind === 'ambiguous') test(c.name, () => expect(o.kind).not.toBe('fail'));
      else if (o.kind === 'fail') test(c.name, () => expect.fail(o.message));
      else if (expectedPass.has(id)) test(c.name, () => expect.fail(`on expected-pass-tflite-readback.txt but ${o.kind}: ${o.reason}`));
      else test.skip(`${c.name} [${o.kind}: ${o.reason.slice(0, 120)}]`, () => {});
    });
  });
  for (const leg of LEGS) {
    describe(`${mode}, the read-back ${leg.title}`, () => {
      const legId = (c: ConformanceCase) => `${mode}-${leg.id}/${c.suite}/${c.name}`;
      describeBySuite(cases.filter((c) => legOutcomes.has(legId(c))), (c) => {
        const id = legId(c);
        const o = legOutcomes.get(id)!;
        const known = LEG_KNOWN[id];
        if (known && o.kind === 'fail') test.skip(`${c.name} [known: ${known.slice(0, 120)}]`, () => {});
        else if (known) test(c.name, () => expect.fail(`listed in LEG_KNOWN (${known}) but ${o.kind}: take it off the list`));
        else if (o.kind === 'pass') test(c.name, () => expect(o.kind).toBe('pass'));
        else if (o.kind === 'fail') test(c.name, () => expect.fail(o.message));
        else if (expectedPass.has(id)) test(c.name, () => expect.fail(`on expected-pass-tflite-readback.txt but ${o.kind}: ${o.reason}`));
        else test.skip(`${c.name} [${o.kind}: ${o.reason.slice(0, 120)}]`, () => {});
      });
    });
  }
}

const passes = (o: Outcome | LegOutcome | undefined) => o?.kind === 'pass' || o?.kind === 'ambiguous';

expectedPassTest(
  EXPECTED_PASS_FILE,
  "ONNX backend cases whose written .tflite nnport reads back and runs to the expected outputs, per mode; '<mode>-onnx/': the read-back written as ONNX, run by onnxruntime; '<mode>-pb/', '<mode>-h5/': written as a GraphDef / Keras .h5, read and run by nnport (see tflite-readback.test.ts)",
  () => [...outcomes, ...legOutcomes].filter(([, o]) => passes(o)).map(([id]) => id),
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
    return [...m].sort((a, b) => b[1].length - a[1].length).map(([r, ids]) => `    ${r} (${ids.length}): ${ids.slice(0, 12).join(', ')}${ids.length > 12 ? ', …' : ''}`);
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
    for (const leg of LEGS) {
      const legs = [...legOutcomes].filter(([id]) => id.startsWith(`${mode}-${leg.id}/`));
      const lby = <K extends LegOutcome['kind']>(k: K) => legs.filter(([, o]) => o.kind === k) as [string, Extract<LegOutcome, { kind: K }>][];
      const known = lby('fail').filter(([id]) => LEG_KNOWN[id]).length;
      lines.push(`  ${leg.title}: ${legs.length}, ${lby('pass').length} matching, ${lby('fail').length - known} failed, ${known} known (LEG_KNOWN), ${lby('refused').length} refused (UnsupportedError)${leg.id === 'onnx' ? `, ${lby('no-kernel').length} with no onnxruntime kernel` : ''}`);
      for (const [id, o] of lby('fail')) lines.push(`    ${LEG_KNOWN[id] ? 'known' : 'failed'}: ${id}: ${(LEG_KNOWN[id] ?? o.message.split('\n').slice(0, 2).join(' | ')).slice(0, 300)}`);
      lines.push(...byReason([...lby('refused'), ...lby('no-kernel')]));
    }
  }
  lines.push(`keepNchwIo files read back ${nchwFiles}; channels-last I/O ambiguous (keepNchwIo only) ${ambiguous}`);
  console.log(lines.join('\n'));
});

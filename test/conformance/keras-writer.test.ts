// The ONNX backend test data (libonnx-testdata) through nnport's Keras writers: each case's
// model.onnx converted to a Keras 2 .h5, a TF.js layers model.json (+ weight shards) and a
// Keras 3 .keras, each loaded and run by TensorFlow.js (test/formats/keras/tfjs-oracle.ts: TF.js
// builds the model from the file's own config and the weights as stored) on the case's inputs,
// and compared with the case's expected outputs (computed by ONNX's reference, not by nnport).
//
// Keras models are channels-last: an input of rank >= 3 that the layout pass moved to
// channels-last is fed the case's NCHW data permuted to N..C, an output read back the same way
// (resolveLayout below; which of the two the model takes is read from its declared shapes, and
// where both orders have the same shape, from where the layout pass puts them).
//
// A case the writer refuses must be refused with an UnsupportedError (a typed NnportError naming
// the op or feature); any other error, or a written file that computes something else, fails.
// expected-pass-keras.txt (committed) lists every `<format> <suite>/<case>` that passes: one that
// fails, is refused or is missing fails the run. Regenerate it with
// NNPORT_CONFORMANCE_WRITE=1 npx vitest run --config vitest.conformance.config.ts test/conformance/keras-writer.test.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { convert, loadModel, type LoadedModel } from '../../src/index.js';
import { NnportError, UnsupportedError } from '../../src/ir/errors.js';
import type { Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { ZipReader } from '../../src/io/zip.js';
import { needsChannelsLast } from '../../src/passes/layout.js';
import { initKernels } from '../../src/wasm/loader.js';
import { permute } from '../../src/wasm/permute.js';
import { tf, tfjsModelFromH5, tfjsModelFromJson, tfjsModelFromKeras3 } from '../formats/keras/tfjs-oracle.js';
import { FORMATS, type FormatId, isInt, resolveLayout } from './keras-writer-run.js';
import { BACKEND_SUITES, describeBySuite, compareTensors, type ConformanceCase, conformanceCases, type DataSet, DEFAULT_TOLERANCE, expectedPassRows, expectedPassTest, loadDataSets, WRITE_EXPECTED } from './harness.js';

const SUITES = BACKEND_SUITES;

/**
 * Written files that TF.js computes differently from the expected data where TF.js itself is
 * wrong (onnxruntime-node / PyTorch agree with the expected outputs): `<format> <suite>/<case>`.
 */
const ELU_ALPHA = "TF.js 4.9's ELU layer takes alpha 1 only (\"Non-default alpha value (2) is not supported\"); Keras' ELU(alpha) is ONNX's Elu (the TF.js writer refuses it by name)";
const EXPONENTIAL = "TF.js 4.9 has no 'exponential' activation (Keras 2.4+ and Keras 3 have it; the TF.js writer refuses it by name)";
const GROUPS = 'TF.js 4.9 ignores Conv groups (builds a full kernel and rejects the grouped one); the TF.js file of the same case, block-diagonal kernels, passes';
const KERAS3_HARD = "Keras 3's hard_sigmoid / hard_silu are relu6(x + 3) / 6 (x times it), ONNX's HardSigmoid(1/6, 1/2) / HardSwish; the oracle reads the config as Keras 2, where hard_sigmoid is clip(0.2x + 0.5) and hard_silu does not exist";
const GROUP_NORM = "TF.js 4.9 has no GroupNormalization (Keras' instance / group norm layer, tf.keras 2.11+ and Keras 3; the TF.js writer refuses it by name); the Keras read-back suite runs the file";
const KNOWN: Record<string, string> = {
  ...Object.fromEntries(
    ['h5', 'keras3'].flatMap((f) => [
      [`${f} pytorch-operator/test_operator_symbolic_override`, GROUP_NORM],
      ...['node/test_elu', 'node/test_elu_example', 'pytorch-converted/test_ELU'].map((c) => [`${f} ${c}`, ELU_ALPHA]),
      ...['node/test_exp', 'node/test_exp_example', 'pytorch-operator/test_operator_exp'].map((c) => [`${f} ${c}`, EXPONENTIAL]),
      ...['test_Conv1d_groups', 'test_Conv2d_groups', 'test_Conv2d_groups_thnn', 'test_Conv3d_groups'].map((c) => [`${f} pytorch-converted/${c}`, GROUPS]),
    ]),
  ),
  'keras3 node/test_hardswish': KERAS3_HARD,
  'keras3 node/test_hardswish_expanded': KERAS3_HARD,
};

const EXPECTED_PASS_FILE = new URL('./expected-pass-keras.txt', import.meta.url);
const expectedPass = new Set(expectedPassRows(EXPECTED_PASS_FILE));

type Outcome = { kind: 'pass' } | { kind: 'refused'; reason: string } | { kind: 'known'; reason: string } | { kind: 'fail'; message: string };

class KerasReport {
  readonly byFormat = new Map<FormatId, Map<string, Outcome>>(FORMATS.map((f) => [f.id, new Map()]));
  record(format: FormatId, id: string, o: Outcome): void {
    this.byFormat.get(format)!.set(id, o);
  }
  passed(): string[] {
    return [...this.byFormat].flatMap(([f, m]) => [...m].filter(([, o]) => o.kind === 'pass').map(([id]) => `${f} ${id}`));
  }
  summary(): string {
    const lines: string[] = [];
    for (const [f, m] of this.byFormat) {
      const all = [...m];
      const count = (k: Outcome['kind']) => all.filter(([, o]) => o.kind === k).length;
      lines.push(`=== Keras writer (${f}): ${all.length - count('refused')} written, ${count('pass')} passed, ${count('fail')} failed, ${count('known')} known, ${count('refused')} refused ===`);
      const failed = all.filter(([, o]) => o.kind === 'fail');
      for (const [id, o] of failed) lines.push(`  FAIL ${id}: ${(o as { message: string }).message.split('\n')[0]!.slice(0, 220)}`);
      for (const [id, o] of all) if (o.kind === 'known') lines.push(`  known ${id}: ${o.reason}`);
      // refusals by reason, with the node names cut off so that one op's cases group together
      const reasons = new Map<string, string[]>();
      for (const [id, o] of all) {
        if (o.kind !== 'refused') continue;
        const r = o.reason.replace(/: node .*$|: input .*$|: output .*$/, '').slice(0, 120);
        reasons.set(r, [...(reasons.get(r) ?? []), id]);
      }
      lines.push('refused:');
      for (const [r, ids] of [...reasons].sort((a, b) => b[1].length - a[1].length)) lines.push(`  ${ids.length} ${r}`);
    }
    return lines.join('\n');
  }
}

/** The written file as a TF.js model. */
async function tfjsModel(format: FormatId, written: { bytes: Uint8Array; sidecars: Map<string, Uint8Array> }): Promise<tf.LayersModel> {
  if (format === 'h5') return tfjsModelFromH5(written.bytes);
  if (format === 'tfjs') return tfjsModelFromJson(written.bytes, (p) => written.sidecars.get(p)!);
  const z = ZipReader.open(written.bytes, 'm.keras');
  return tfjsModelFromKeras3(JSON.parse(new TextDecoder().decode(z.read('config.json'))), z.read('model.weights.h5'));
}

/** Run the TF.js model on a data set (NCHW inputs laid out as the model takes them) and compare. */
function checkDataSet(model: tf.LayersModel, set: DataSet, channelsLastGraph: boolean): string[] {
  const problems: string[] = [];
  if (set.inputs.length !== model.inputs.length) return [`${set.name}: ${set.inputs.length} inputs, the model takes ${model.inputs.length}`];
  if (set.outputs.length !== model.outputs.length) return [`${set.name}: ${set.outputs.length} expected outputs, the model gives ${model.outputs.length}`];
  const xs = set.inputs.map((t, i) => {
    const sym = model.inputs[i]!;
    const p = resolveLayout(t.shape as number[], sym.shape, channelsLastGraph);
    const laid = p.every((a, k) => a === k) ? t : permute(t, p);
    const dtype = sym.dtype === 'int32' || sym.dtype === 'bool' ? sym.dtype : 'float32';
    const values = laid.dtype === 'bool' ? Array.from(laid.data as Uint8Array, Number) : laid.toNumbers();
    return tf.tensor(values, [...laid.shape], dtype);
  });
  let ys: tf.Tensor[];
  try {
    // predict's input checks take a rank-1 array as a column (Keras' convention): a model whose
    // input is the batch axis alone is run by apply (the same graph execution, without that check)
    const feed = xs.length === 1 ? xs[0]! : xs;
    const y = xs.some((x) => x.rank < 2) ? (model.apply(feed, { training: false }) as tf.Tensor | tf.Tensor[]) : model.predict(feed);
    ys = Array.isArray(y) ? y : [y];
  } catch (e) {
    tf.dispose(xs);
    return [`${set.name}: TF.js predict failed: ${e instanceof Error ? e.message : String(e)}`];
  }
  set.outputs.forEach((want, i) => {
    const y = ys[i]!;
    const p = resolveLayout(want.shape as number[], y.shape, channelsLastGraph);
    const inv = new Array<number>(p.length);
    p.forEach((a, k) => (inv[a] = k));
    let got: Tensor = Tensor.float32(y.shape, Float32Array.from(y.dataSync()));
    if (got.rank === want.rank && !p.every((a, k) => a === k)) got = permute(got, inv);
    // integer results must be exact; compared as numbers (no wrap-around when cast back)
    const expected = Tensor.float32([...want.shape], Float32Array.from(want.toNumbers()));
    const diff = compareTensors(got, expected, isInt(want.dtype) ? { rtol: 0, atol: 0 } : DEFAULT_TOLERANCE);
    if (diff) problems.push(`${set.name}: output ${i}: ${diff}`);
  });
  tf.dispose([...xs, ...ys]);
  return problems;
}

async function runFormat(model: LoadedModel, format: (typeof FORMATS)[number], sets: DataSet[]): Promise<Outcome> {
  let written;
  try {
    written = await convert(model, format.file);
  } catch (e) {
    if (e instanceof UnsupportedError) return { kind: 'refused', reason: e.message };
    if (e instanceof NnportError) return { kind: 'fail', message: `refused with ${e.name}, not UnsupportedError: ${e.message}` };
    return { kind: 'fail', message: `convert crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` };
  }
  let m: tf.LayersModel;
  try {
    m = await tfjsModel(format.id, written);
  } catch (e) {
    return { kind: 'fail', message: `TF.js could not load the written file: ${e instanceof Error ? e.message : String(e)}` };
  }
  const graph = (model as { graph: Graph }).graph;
  const channelsLastGraph = needsChannelsLast(graph);
  const problems = sets.flatMap((s) => checkDataSet(m, s, channelsLastGraph));
  m.dispose();
  return problems.length ? { kind: 'fail', message: problems.join('\n') } : { kind: 'pass' };
}

const cases: ConformanceCase[] = conformanceCases(SUITES);
const report = new KerasReport();

describeBySuite(cases, (c) => {
  const id = `${c.suite}/${c.name}`;
  test(c.name, async () => {
    await initKernels();
    let model: LoadedModel | undefined;
    try {
      model = await loadModel(new Uint8Array(readFileSync(join(c.dir, 'model.onnx'))), { fileName: join(c.dir, 'model.onnx') });
    } catch (e) {
      // the reader's refusals are the ONNX suite's business: here every format is refused
      if (!(e instanceof UnsupportedError)) throw e;
      for (const f of FORMATS) report.record(f.id, id, { kind: 'refused', reason: `reader: ${e.message}` });
    }
    const sets = model ? loadDataSets(c.dir, model.kind === 'graph' ? model.graph : undefined) : [];
    const problems: string[] = [];
    for (const f of FORMATS) {
      const key = `${f.id} ${id}`;
      let o: Outcome = model ? await runFormat(model, f, sets) : { kind: 'refused', reason: 'reader' };
      if (o.kind === 'fail' && KNOWN[key]) o = { kind: 'known', reason: KNOWN[key]! };
      else if (KNOWN[key]) problems.push(`${f.id}: listed in KNOWN but ${o.kind === 'pass' ? 'passes' : 'is refused'}: remove it from KNOWN`);
      if (model) report.record(f.id, id, o);
      if (o.kind === 'fail') problems.push(`${f.id}: ${o.message}`);
      else if (o.kind !== 'pass' && expectedPass.has(key)) problems.push(`${f.id}: on expected-pass-keras.txt but ${o.kind}: ${o.reason}`);
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });
});

expectedPassTest(EXPECTED_PASS_FILE, '<format> <suite>/<case> that pass in keras-writer.test.ts', () => report.passed());

afterAll(() => {
  // every outcome as JSON, to compare two runs (NNPORT_KERAS_OUTCOMES=path)
  const dump = process.env.NNPORT_KERAS_OUTCOMES;
  if (dump) writeFileSync(dump, JSON.stringify(Object.fromEntries([...report.byFormat].map(([f, m]) => [f, Object.fromEntries(m)])), null, 1));
  console.log(report.summary());
});

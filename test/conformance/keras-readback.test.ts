// Read-back of the ONNX backend test cases nnport writes as Keras files: each case's model.onnx
// converted to a Keras 2 .h5, a TF.js layers model.json (+ weight shards) and a Keras 3 .keras
// exactly as keras-writer.test.ts writes them, each read by nnport's own readers (loadModelFiles:
// the .h5 / .keras alone, model.json with its shards) and run by nnport's runtime on the case's
// inputs, laid out as the read model's inputs declare (channels-last where the writer made them
// so, as keras-writer.test.ts feeds TF.js), and compared with the case's expected outputs: the
// ONNX test data, not nnport's own output, is the reference. The written files themselves are
// checked against TensorFlow.js by keras-writer.test.ts; here the readers are.
//
// A written file the reader cannot read must be refused with an UnsupportedError (a typed
// NnportError naming the layer or feature); any other error, a read-back whose outputs differ, or
// an output computed in another dtype or shape than the read model declares, fails.
// expected-pass-keras-readback.txt (committed) lists every `<format> <suite>/<case>` read back and
// matching: one that fails, is refused or goes missing fails the run. Regenerate it with
// NNPORT_CONFORMANCE_WRITE=1 npx vitest run --config vitest.conformance.config.ts test/conformance/keras-readback.test.ts
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { convert, loadModel, loadModelFiles, type LoadedModel } from '../../src/index.js';
import { NnportError, UnsupportedError } from '../../src/ir/errors.js';
import type { Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { needsChannelsLast } from '../../src/passes/layout.js';
import { runGraph } from '../../src/runtime/executor.js';
import { initKernels } from '../../src/wasm/loader.js';
import { castTo, permuteAxes } from './graphdef-writer-run.js';
import { FORMATS, type FormatId, isInt, resolveLayout } from './keras-writer-run.js';
import { BACKEND_SUITES, describeBySuite, compareTensors, type ConformanceCase, conformanceCases, type DataSet, expectedPassRows, expectedPassTest, loadDataSets } from './harness.js';

const SUITES = BACKEND_SUITES;

/** The format id each written file must be read back as. */
const READ_AS: Record<FormatId, string> = { h5: 'keras-h5', tfjs: 'tfjs', keras3: 'keras-v3' };

/**
 * Cases whose data a Keras model cannot take: all of a Keras model's inputs share the batch axis
 * (Keras' and TF.js' predict refuse inputs with different numbers of samples, and the reader
 * declares each input's first dim 'batch'), and these feed [3, 4] and [1].
 */
const BATCH = "the inputs' first dims differ (3 and 1), which a Keras model's shared batch axis (predict: 'same number of samples') refuses";
const NOT_COMPARABLE: Record<string, string> = {
  'node/test_castlike_FLOAT16_to_FLOAT_expanded': BATCH,
  'node/test_castlike_FLOAT_to_FLOAT16_expanded': BATCH,
};

const EXPECTED_PASS_FILE = new URL('./expected-pass-keras-readback.txt', import.meta.url);
const expectedPass = new Set(expectedPassRows(EXPECTED_PASS_FILE));

type Outcome =
  | { kind: 'pass' }
  | { kind: 'not-written'; reason: string }
  | { kind: 'not-comparable'; reason: string }
  | { kind: 'refused'; reason: string; feature: string }
  | { kind: 'fail'; message: string };

const inverse = (p: number[]): number[] => p.map((_, i) => p.indexOf(i));
const isIdentity = (p: number[]) => p.every((a, i) => a === i);

/** The written files as the reader is given them: the model file, and model.json's shards beside it. */
function filesOf(format: FormatId, written: { bytes: Uint8Array; sidecars: Map<string, Uint8Array> }): { name: string; bytes: Uint8Array }[] {
  if (format === 'tfjs') return [{ name: 'model.json', bytes: written.bytes }, ...[...written.sidecars].map(([name, bytes]) => ({ name, bytes }))];
  return [{ name: format === 'h5' ? 'm.h5' : 'm.keras', bytes: written.bytes }];
}

/** Run the read-back graph on a data set (NCHW inputs laid out as its inputs declare) and compare. */
async function checkDataSet(g: Graph, set: DataSet, channelsLastGraph: boolean): Promise<string[]> {
  if (set.inputs.length !== g.inputs.length) return [`${set.name}: ${set.inputs.length} inputs, the read model takes ${g.inputs.length}`];
  if (set.outputs.length !== g.outputs.length) return [`${set.name}: ${set.outputs.length} expected outputs, the read model gives ${g.outputs.length}`];
  const feeds = new Map<string, Tensor>();
  set.inputs.forEach((t, i) => {
    const v = g.inputs[i]!;
    const declared = v.shape?.map((d) => (typeof d === 'number' ? d : null));
    const p = resolveLayout(t.shape as number[], declared, channelsLastGraph);
    const laid = isIdentity(p) ? t : permuteAxes(t, p);
    feeds.set(v.name, castTo(laid, v.dtype));
  });
  let outs: ReadonlyMap<string, Tensor>;
  try {
    outs = (await runGraph(g, feeds)).outputs;
  } catch (e) {
    return [`${set.name}: nnport's runtime failed on the read-back graph: ${e instanceof Error ? e.message : String(e)}`];
  }
  const problems: string[] = [];
  set.outputs.forEach((want, k) => {
    const o = g.outputs[k]!;
    const y = outs.get(o.name);
    if (!y) return problems.push(`${set.name}: output ${k} '${o.name}' not produced`);
    if (y.dtype !== o.dtype) problems.push(`${set.name}: output ${k} '${o.name}' is declared ${o.dtype} but computed as ${y.dtype}`);
    const dims = o.shape;
    if (dims && (dims.length !== y.rank || dims.some((d, i) => typeof d === 'number' && d !== y.shape[i]))) {
      problems.push(`${set.name}: output ${k} '${o.name}' is declared [${dims.join(', ')}] but computed as [${y.shape.join(', ')}]`);
    }
    const p = resolveLayout(want.shape as number[], y.shape as number[], channelsLastGraph);
    const got = y.rank === want.rank && !isIdentity(p) ? permuteAxes(y, inverse(p)) : y;
    // integer results must be exact (compared as float64 numbers: Keras holds int64 as int32)
    const as = isInt(want.dtype) ? 'float64' : 'float32';
    const diff = compareTensors(castTo(got, as), castTo(want, as));
    if (diff) problems.push(`${set.name}: output ${k} '${o.name}': ${diff}`);
  });
  return problems;
}

async function readBack(id: string, model: LoadedModel, format: (typeof FORMATS)[number], sets: DataSet[]): Promise<Outcome> {
  let written;
  try {
    written = await convert(model, format.file);
  } catch (e) {
    // what the writer refuses is keras-writer.test.ts' business
    return { kind: 'not-written', reason: e instanceof Error ? e.message : String(e) };
  }
  let back: LoadedModel;
  try {
    back = await loadModelFiles(filesOf(format.id, written));
  } catch (e) {
    if (e instanceof UnsupportedError) return { kind: 'refused', reason: e.message, feature: e.feature };
    return { kind: 'fail', message: `read back without an UnsupportedError: ${e instanceof NnportError ? e.name : 'untyped'} ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` };
  }
  if (back.kind !== 'graph') return { kind: 'fail', message: `read back as ${back.kind}, not a graph` };
  if (back.format !== READ_AS[format.id]) return { kind: 'fail', message: `read back as ${back.format}, not ${READ_AS[format.id]}` };
  if (NOT_COMPARABLE[id]) return { kind: 'not-comparable', reason: NOT_COMPARABLE[id]! };
  const channelsLastGraph = needsChannelsLast((model as { graph: Graph }).graph);
  const problems: string[] = [];
  for (const s of sets) problems.push(...(await checkDataSet(back.graph, s, channelsLastGraph)));
  return problems.length ? { kind: 'fail', message: problems.join('\n') } : { kind: 'pass' };
}

const cases: ConformanceCase[] = conformanceCases(SUITES);
await initKernels();
const outcomes = new Map<FormatId, Map<string, Outcome>>(FORMATS.map((f) => [f.id, new Map()]));
for (const c of cases) {
  const id = `${c.suite}/${c.name}`;
  let model: LoadedModel | undefined;
  try {
    model = await loadModel(new Uint8Array(readFileSync(join(c.dir, 'model.onnx'))), { fileName: join(c.dir, 'model.onnx') });
  } catch (e) {
    for (const f of FORMATS) outcomes.get(f.id)!.set(id, { kind: 'not-written', reason: `not read from ONNX: ${e instanceof Error ? e.message : String(e)}` });
    continue;
  }
  const sets = loadDataSets(c.dir, model?.kind === 'graph' ? model.graph : undefined);
  for (const f of FORMATS) {
    const o = await readBack(id, model, f, sets).catch((e: unknown): Outcome => ({ kind: 'fail', message: `crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` }));
    outcomes.get(f.id)!.set(id, o);
  }
}

for (const f of FORMATS) {
  describe(f.id, () => {
    describeBySuite(cases, (c) => {
      const id = `${c.suite}/${c.name}`;
      const o = outcomes.get(f.id)!.get(id)!;
      const listed = expectedPass.has(`${f.id} ${id}`);
      if (o.kind === 'pass') test(c.name, () => expect(o.kind).toBe('pass'));
      else if (o.kind === 'fail') test(c.name, () => expect.fail(o.message));
      else if (listed) test(c.name, () => expect.fail(`on expected-pass-keras-readback.txt but ${o.kind}: ${o.reason}`));
      else if (o.kind === 'refused' || o.kind === 'not-comparable') test.skip(`${c.name} [${o.kind}: ${o.reason.slice(0, 120)}]`, () => {});
    });
  });
}

expectedPassTest(
  EXPECTED_PASS_FILE,
  '<format> <suite>/<case> whose written Keras file nnport reads back and runs to the expected outputs (see keras-readback.test.ts)',
  () => [...outcomes].flatMap(([f, m]) => [...m].filter(([, o]) => o.kind === 'pass').map(([id]) => `${f} ${id}`)),
  'was written, read back and passed',
);

afterAll(() => {
  const lines: string[] = [];
  for (const [f, m] of outcomes) {
    const all = [...m];
    const by = (k: Outcome['kind']) => all.filter(([, o]) => o.kind === k);
    const written = all.length - by('not-written').length;
    const refused = by('refused') as [string, Extract<Outcome, { kind: 'refused' }>][];
    lines.push(
      `=== Keras read-back (${f}): ${written} written, ${written - refused.length} read back, ${by('pass').length} matching the expected outputs, ${by('fail').length} failed, ${refused.length} refused by the reader (UnsupportedError), ${by('not-comparable').length} not comparable ===`,
    );
    for (const [id, o] of by('not-comparable') as [string, Extract<Outcome, { kind: 'not-comparable' }>][]) lines.push(`  not comparable ${id}: ${o.reason}`);
    for (const [id, o] of by('fail') as [string, Extract<Outcome, { kind: 'fail' }>][]) lines.push(`  FAIL ${id}: ${o.message.split('\n').slice(0, 2).join(' | ').slice(0, 300)}`);
    const byReason = new Map<string, string[]>();
    for (const [id, o] of refused) {
      const key = o.feature.slice(0, 100);
      byReason.set(key, [...(byReason.get(key) ?? []), id.replace(/^[^/]+\/(test_)?/, '')]);
    }
    if (byReason.size) lines.push('  refused by the reader, by reason:');
    for (const [r, ids] of [...byReason].sort((a, b) => b[1].length - a[1].length)) lines.push(`    ${r} (${ids.length}): ${ids.slice(0, 12).join(', ')}${ids.length > 12 ? ', …' : ''}`);
  }
  console.log(lines.join('\n'));
});

// Read-back of the ONNX backend test cases nnport writes as frozen GraphDefs (.pb): every written
// .pb is read by nnport's own TensorFlow reader (readGraphDefModel on the bytes) and run by
// nnport's runtime on the case's inputs, laid out as each Placeholder declares (channels-last
// where the writer made them so, as graphdef-writer.test.ts feeds its oracles), and compared
// with the case's expected outputs: the ONNX test data, not nnport's own output, is the reference.
// The .pb itself is checked against OpenCV / the NumPy runner by graphdef-writer.test.ts; here
// the reader is.
//
// A written .pb the reader cannot read must be refused with a typed NnportError naming the op or
// feature; a read-back whose outputs differ fails. expected-pass-graphdef-readback.txt (committed)
// lists every case read back and matching: one that fails, is refused or goes missing fails the
// run. Regenerate it with
// NNPORT_CONFORMANCE_WRITE=1 npx vitest run --config vitest.conformance.config.ts test/conformance/graphdef-readback.test.ts
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { convert, loadModelFiles } from '../../src/index.js';
import { readGraphDefModel } from '../../src/formats/tensorflow/read.js';
import { NnportError, UnsupportedError } from '../../src/ir/errors.js';
import { Tensor } from '../../src/ir/tensor.js';
import { needsChannelsLast } from '../../src/passes/layout.js';
import { runGraph } from '../../src/runtime/executor.js';
import { initKernels } from '../../src/wasm/loader.js';
import { BACKEND_SUITES, describeBySuite, type ConformanceCase, conformanceCases, type DataSet, expectedPassRows, expectedPassTest, loadDataSets, NOT_COMPARABLE } from './harness.js';
import { outputProblem, placeholderFeed, placeholderSpecs, tfName } from './graphdef-writer-run.js';

const SUITES = BACKEND_SUITES;


const EXPECTED_PASS_FILE = new URL('./expected-pass-graphdef-readback.txt', import.meta.url);
const expectedPass = new Set(expectedPassRows(EXPECTED_PASS_FILE));

type Outcome =
  | { kind: 'pass' }
  | { kind: 'not-written'; reason: string }
  | { kind: 'not-comparable'; reason: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'fail'; message: string };

async function readBack(c: ConformanceCase): Promise<Outcome> {
  if (NOT_COMPARABLE[c.name]) return { kind: 'not-comparable', reason: NOT_COMPARABLE[c.name]! };
  let model;
  try {
    model = await loadModelFiles([join(c.dir, 'model.onnx')]);
  } catch (e) {
    return { kind: 'not-written', reason: `not read from ONNX: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (model.kind !== 'graph') return { kind: 'not-written', reason: `read as ${model.kind}` };
  const graph = model.graph;
  let bytes: Uint8Array;
  try {
    bytes = (await convert(model, 'm.pb')).bytes;
  } catch (e) {
    return { kind: 'not-written', reason: e instanceof Error ? e.message : String(e) };
  }
  written++;
  // the reader: a .pb it cannot read must be refused with a typed error naming what it lacks
  let back;
  try {
    // a GraphDef declares no outputs: named as a user names them (--outputs), the writer's node names
    back = await readGraphDefModel(bytes, { fileName: `${c.name}.pb`, outputs: graph.outputs.map((o) => tfName(o.name)) });
  } catch (e) {
    if (e instanceof UnsupportedError) return { kind: 'refused', reason: e.message };
    return { kind: 'fail', message: `read back without an UnsupportedError: ${e instanceof NnportError ? e.name : 'untyped'} ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` };
  }
  if (back.kind !== 'graph') return { kind: 'fail', message: `read back as ${back.kind}, not a graph` };
  const g = back.graph;
  const placeholders = placeholderSpecs(bytes, 'm.pb');
  const spatial = needsChannelsLast(graph);
  const inputNames = graph.inputs.filter((v) => !graph.initializers.has(v.name)).map((v) => v.name);
  const readInputs = new Set(g.inputs.map((v) => v.name));
  const problems: string[] = [];
  for (const set of loadDataSets(c.dir, graph) as DataSet[]) {
    const feeds = new Map<string, Tensor>();
    for (const [i, t] of set.inputs.entries()) {
      const name = inputNames[i] !== undefined ? tfName(inputNames[i]!) : undefined;
      const ph = name === undefined ? undefined : placeholders.get(name);
      if (!name || !ph || !readInputs.has(name)) continue; // an input the written graph no longer reads
      feeds.set(name, placeholderFeed(t, ph, spatial));
    }
    let outs: ReadonlyMap<string, Tensor>;
    try {
      outs = (await runGraph(g, feeds)).outputs;
    } catch (e) {
      return { kind: 'fail', message: `${set.name}: nnport's runtime failed on the read-back graph: ${e instanceof Error ? e.message : String(e)}` };
    }
    set.outputs.forEach((expected, k) => {
      const name = tfName(graph.outputs[k]!.name);
      const y = outs.get(name);
      if (!y) return problems.push(`${set.name}: output ${k} '${name}' not produced (outputs: ${[...outs.keys()].join(', ')})`);
      const diff = outputProblem(y, expected, spatial);
      if (diff) problems.push(`${set.name}: output ${k} '${name}': ${diff}`);
    });
  }
  return problems.length ? { kind: 'fail', message: problems.join('\n') } : { kind: 'pass' };
}

const cases = conformanceCases(SUITES);
let written = 0;
await initKernels();
const outcomes = new Map<string, Outcome>();
for (const c of cases) {
  outcomes.set(`${c.suite}/${c.name}`, await readBack(c).catch((e: unknown) => ({ kind: 'fail', message: `crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` }) as Outcome));
}

describeBySuite(cases, (c) => {
  const id = `${c.suite}/${c.name}`;
  const o = outcomes.get(id)!;
  if (o.kind === 'pass') test(c.name, () => expect(o.kind).toBe('pass'));
  else if (o.kind === 'fail') test(c.name, () => expect.fail(o.message));
  else if (expectedPass.has(id)) test(c.name, () => expect.fail(`on expected-pass-graphdef-readback.txt but ${o.kind}: ${o.reason}`));
  else test.skip(`${c.name} [${o.kind}: ${o.reason.slice(0, 120)}]`, () => {});
});

expectedPassTest(
  EXPECTED_PASS_FILE,
  'ONNX backend cases whose written .pb nnport reads back and runs to the expected outputs (see graphdef-readback.test.ts)',
  () => [...outcomes].filter(([, o]) => o.kind === 'pass').map(([id]) => id),
  'was written, read back and passed',
);

afterAll(() => {
  const by = (k: Outcome['kind']) => [...outcomes].filter(([, o]) => o.kind === k);
  const refused = by('refused') as [string, Extract<Outcome, { kind: 'refused' }>][];
  const failed = by('fail') as [string, Extract<Outcome, { kind: 'fail' }>][];
  const byReason = new Map<string, string[]>();
  for (const [id, o] of refused) {
    const key = o.reason.replace(/'[^']*'/g, "'…'").slice(0, 100);
    byReason.set(key, [...(byReason.get(key) ?? []), id.replace(/^[^/]+\/(test_)?/, '')]);
  }
  const lines = [
    `=== GraphDef read-back: ${written} written, ${by('pass').length} read back and matching the expected outputs, ${failed.length} failed, ${refused.length} refused by the reader (UnsupportedError), ${by('not-comparable').length} not comparable ===`,
  ];
  for (const [id, o] of failed) lines.push(`failed: ${id}: ${o.message.split('\n').slice(0, 2).join(' | ').slice(0, 300)}`);
  lines.push('refused by the reader, by reason:');
  for (const [r, ids] of [...byReason].sort((a, b) => b[1].length - a[1].length)) lines.push(`  ${r} (${ids.length}): ${ids.slice(0, 12).join(', ')}${ids.length > 12 ? ', …' : ''}`);
  console.log(lines.join('\n'));
});

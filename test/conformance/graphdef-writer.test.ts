// The ONNX backend test cases written as frozen GraphDefs (.pb) by nnport and run by OpenCV 4.6
// dnn (cv2.dnn.readNetFromTensorflow), compared with each case's expected outputs. Where OpenCV's
// importer cannot load or run a graph (an op it lacks, an integer dtype, a rank it does not
// handle), the NumPy GraphDef runner (scripts/fixtures/tf_numpy_run.py, TensorFlow's documented
// semantics) is the oracle instead; the summary says which oracle passed each case. All cases
// run in one Python process (scripts/fixtures/tf_conformance_run.py).
//
// A case the writer refuses must be refused with an UnsupportedError (any other error fails);
// a written case whose outputs differ fails. expected-pass-graphdef.txt (committed) lists every
// case that passes: one that fails, is refused or goes missing fails the run. Regenerate it with
// NNPORT_CONFORMANCE_WRITE=1 npx vitest run --config vitest.conformance.config.ts test/conformance/graphdef-writer.test.ts
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { convert, loadModelFiles } from '../../src/index.js';
import { NnportError, UnsupportedError } from '../../src/ir/errors.js';
import { needsChannelsLast } from '../../src/passes/layout.js';
import { BACKEND_SUITES, describeBySuite, type ConformanceCase, conformanceCases, type DataSet, expectedPassRows, loadDataSets, NOT_COMPARABLE, ONLY, WRITE_EXPECTED } from './harness.js';
import { type Oracle, oracleOutput, outputProblem, placeholderFeed, placeholderSpecs, type RunCase, runOracles, type RunStatus, tfName, writeInput } from './graphdef-writer-run.js';

const SUITES = BACKEND_SUITES;


/**
 * Written cases OpenCV computes wrongly while the NumPy runner (TensorFlow's semantics) matches
 * the expected outputs: OpenCV's importer, not the GraphDef, is at fault.
 */
const FLATTEN_4D = "OpenCV's importer takes a 4-D Placeholder for NHWC and flattens its NCHW blob in another order";
const REDUCE_3D = "OpenCV's importer reduces a 3-D tensor (fed as [..., 1] and reshaped, as for its sequences) over another axis";
const REDUCE_3D_EXPANDED = "a softmax written out as ReduceMax / ReduceSum (the _expanded case) over a 3-D tensor: OpenCV's importer reduces it over another axis";
const SOFTMAX_3D = "OpenCV's importer runs Softmax of a 3-D tensor (fed as [..., 1] and reshaped) over another axis";
const POOL_1D = "OpenCV's importer lays out the Reshape + Transpose that lift a 1-D pool's (N, C, L) input to (N, L, 1, C) wrongly";
const KNOWN: Record<string, string> = {
  ...Object.fromEntries(['axis0', 'axis1', 'axis2', 'axis3', 'default_axis', 'negative_axis1', 'negative_axis2', 'negative_axis3', 'negative_axis4'].map((a) => [`test_flatten_${a}`, FLATTEN_4D])),
  test_operator_flatten: FLATTEN_4D,
  ...Object.fromEntries(['max', 'mean', 'sum_square', 'log_sum_exp'].flatMap((op) => ['keepdims_example', 'keepdims_random', 'negative_axes_keepdims_example', 'negative_axes_keepdims_random'].map((k) => [`test_reduce_${op}_${k}`, REDUCE_3D]))),
  ...Object.fromEntries(['axis_0', 'axis_1', 'axis_2', 'default_axis', 'negative_axis'].map((a) => [`test_softmax_${a}`, SOFTMAX_3D])),
  test_reduce_log_sum_negative_axes: REDUCE_3D,
  ...Object.fromEntries(['softmax_axis_0', 'softmax_axis_2', 'softmax_default_axis', 'softmax_negative_axis', 'logsoftmax_axis_1'].map((c) => [`test_${c}_expanded`, REDUCE_3D_EXPANDED])),
  test_AvgPool1d: POOL_1D,
  test_AvgPool1d_stride: POOL_1D,
  test_PixelShuffle: "a 6-D Reshape / Transpose (depth to space): OpenCV's importer re-lays the 6-D tensor as if it were an image",
  test_depthtospace_crd_mode: "a 6-D Reshape / Transpose (DepthToSpace CRD): OpenCV's importer re-lays the 6-D tensor as if it were an image",
  test_depthtospace_crd_mode_example: "a 6-D Reshape / Transpose (DepthToSpace CRD): OpenCV's importer re-lays the 6-D tensor as if it were an image",
};

const EXPECTED_PASS_FILE = new URL('./expected-pass-graphdef.txt', import.meta.url);
const WRITE = WRITE_EXPECTED;
/** case id -> the oracle that passed it ('opencv' or 'numpy'): one OpenCV passed that only NumPy passes now fails too */
const expectedPass = new Map<string, Oracle>(expectedPassRows(EXPECTED_PASS_FILE).map((l) => l.split(/\s+/) as [string, Oracle]));

type Prepared =
  | { kind: 'written'; run: RunCase; sets: DataSet[]; outputNames: string[]; spatial: boolean }
  | { kind: 'refused'; reason: string }
  | { kind: 'not-read'; reason: string }
  | { kind: 'not-comparable'; reason: string }
  | { kind: 'error'; message: string };

async function prepare(c: ConformanceCase, dir: string): Promise<Prepared> {
  if (NOT_COMPARABLE[c.name]) return { kind: 'not-comparable', reason: NOT_COMPARABLE[c.name]! };
  const file = join(c.dir, 'model.onnx');
  let model;
  try {
    model = await loadModelFiles([file]);
  } catch (e) {
    return { kind: 'not-read', reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  if (model.kind !== 'graph') return { kind: 'error', message: `read as ${model.kind}, not a graph` };
  const graph = model.graph;
  let bytes: Uint8Array;
  try {
    bytes = (await convert(model, 'm.pb')).bytes;
  } catch (e) {
    if (e instanceof UnsupportedError) return { kind: 'refused', reason: e.message };
    return { kind: 'error', message: `refused without an UnsupportedError: ${e instanceof NnportError ? e.name : 'untyped'} ${e instanceof Error ? e.message : String(e)}` };
  }
  const caseDir = join(dir, `${c.suite}-${c.name}`);
  mkdirSync(caseDir, { recursive: true });
  const pb = join(caseDir, 'm.pb');
  writeFileSync(pb, bytes);
  const placeholders = placeholderSpecs(bytes, pb);
  const spatial = needsChannelsLast(graph);
  const inputNames = graph.inputs.filter((v) => !graph.initializers.has(v.name)).map((v) => v.name);
  const sets = loadDataSets(c.dir, graph);
  const run: RunCase = { id: `${c.suite}/${c.name}`, pb, out_dir: caseDir, sets: [], outputs: graph.outputs.map((o) => tfName(o.name)) };
  for (const set of sets) {
    const inputs: RunCase['sets'][number]['inputs'] = [];
    for (const [i, t] of set.inputs.entries()) {
      const name = inputNames[i] !== undefined ? tfName(inputNames[i]!) : undefined;
      const ph = name === undefined ? undefined : placeholders.get(name);
      if (!name || !ph) continue; // an input the written graph no longer reads
      inputs.push({ name, npy: writeInput(join(caseDir, `${set.name}-input_${i}.npy`), placeholderFeed(t, ph, spatial)) });
    }
    run.sets.push({ name: set.name, inputs });
  }
  return { kind: 'written', run, sets, outputNames: graph.outputs.map((o) => o.name), spatial };
}

function verdict(p: Extract<Prepared, { kind: 'written' }>, oracle: Oracle): string[] {
  const problems: string[] = [];
  for (const set of p.sets) {
    set.outputs.forEach((expected, k) => {
      const y = oracleOutput(p.run, set.name, oracle, k);
      if (!y) return problems.push(`${set.name}: output ${k} not produced`);
      const diff = outputProblem(y, expected, p.spatial, oracle === 'opencv');
      if (diff) problems.push(`${set.name}: output ${k} '${p.outputNames[k]}': ${diff}`);
    });
  }
  return problems;
}

type Outcome =
  | { kind: 'pass'; oracle: Oracle; note?: string }
  | { kind: 'known'; reason: string }
  | { kind: 'fail'; message: string };

function judge(p: Extract<Prepared, { kind: 'written' }>, status: RunStatus | undefined): Outcome {
  if (!status) return { kind: 'fail', message: 'the Python runner left no result' };
  const cv = status.opencv === 'ok' ? verdict(p, 'opencv') : undefined;
  const np = status.numpy === 'ok' ? verdict(p, 'numpy') : undefined;
  const id = p.run.id;
  const known = KNOWN[id.split('/')[1]!];
  if (known && cv && !cv.length) return { kind: 'fail', message: `listed in KNOWN (${known}) but OpenCV now matches: take it off the list` };
  if (cv && !cv.length) {
    // OpenCV is lenient about shapes and ranks; the NumPy runner, where it runs, checks TensorFlow's
    // (and is itself checked by every case OpenCV passes)
    if (np?.length) return { kind: 'fail', message: `OpenCV matches but the NumPy runner does not: ${np.join('; ')}` };
    if (!np) tally.numpyCannot.push(`${id}: ${status.numpy}`);
    return { kind: 'pass', oracle: 'opencv' };
  }
  if (cv && np && !np.length) {
    if (known) return { kind: 'known', reason: known };
    return { kind: 'fail', message: `OpenCV differs, the NumPy runner matches (an OpenCV bug? then list it in KNOWN with the reason):\n${cv.join('\n')}` };
  }
  if (!cv && np && !np.length) return { kind: 'pass', oracle: 'numpy', note: status.opencv };
  const lines = [cv ? `OpenCV: ${cv.join('; ')}` : `OpenCV could not run it: ${status.opencv}`, np ? `NumPy: ${np.join('; ')}` : `NumPy could not run it: ${status.numpy}`];
  return { kind: 'fail', message: lines.join('\n') };
}

// NNPORT_CONFORMANCE_ONLY=<regex> runs the matching cases alone (while fixing the writer)
const cases = conformanceCases(SUITES);
// NNPORT_CONFORMANCE_DIR=<dir> keeps the .pb files, inputs and oracle outputs there (to look into a failure)
const work = process.env.NNPORT_CONFORMANCE_DIR ?? mkdtempSync(join(tmpdir(), 'graphdef-conformance-'));
const prepared = new Map<string, Prepared>();
for (const c of cases) {
  prepared.set(
    `${c.suite}/${c.name}`,
    await prepare(c, work).catch((e: unknown) => ({ kind: 'error', message: `crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` }) as Prepared),
  );
}
const toRun = [...prepared.values()].flatMap((p) => (p.kind === 'written' ? [p.run] : []));
const statuses = toRun.length ? runOracles(work, toRun) : new Map<string, RunStatus>();

const tally = { written: 0, opencv: [] as string[], numpy: [] as string[], known: [] as [string, string][], failed: [] as string[], numpyCannot: [] as string[], opencvCannot: new Map<string, string[]>(), why: new Map<string, string>(), refused: [] as [string, string][], notRead: [] as [string, string][], notComparable: [] as [string, string][], errors: [] as string[] };
const passed = new Map<string, Oracle>();

describeBySuite(cases, (c) => {
  const id = `${c.suite}/${c.name}`;
  const p = prepared.get(id)!;
  if (p.kind === 'not-read' || p.kind === 'not-comparable' || p.kind === 'refused') {
    (p.kind === 'refused' ? tally.refused : p.kind === 'not-read' ? tally.notRead : tally.notComparable).push([id, p.reason]);
    if (expectedPass.has(id)) test(c.name, () => expect.fail(`on expected-pass-graphdef.txt but ${p.kind}: ${p.reason}`));
    else test.skip(`${c.name} [${p.kind}: ${p.reason.slice(0, 120)}]`, () => {});
    return;
  }
  if (p.kind === 'error') {
    tally.errors.push(id);
    test(c.name, () => expect.fail(p.message));
    return;
  }
  tally.written++;
  const o = judge(p, statuses.get(id));
  if (o.kind === 'pass') {
    passed.set(id, o.oracle);
    if (o.oracle === 'numpy') {
      const why = (o.note ?? '').replace(/^.*?error: \([^)]*\) /, '').replace(/ in function .*$/, '').replace(/"[^"]*"/g, '"…"').slice(0, 90);
      tally.opencvCannot.set(why, [...(tally.opencvCannot.get(why) ?? []), c.name.replace(/^test_/, '')]);
    }
    (o.oracle === 'opencv' ? tally.opencv : tally.numpy).push(id);
  } else if (o.kind === 'known') tally.known.push([id, o.reason]);
  else {
    tally.failed.push(id);
    tally.why.set(id, o.message.split('\n').slice(0, 3).join(' | ').slice(0, 300));
  }
  test(`${c.name}${o.kind === 'pass' ? ` (${o.oracle === 'opencv' ? 'OpenCV' : 'NumPy runner'})` : ''}`, (ctx) => {
    if (o.kind === 'known') {
      if (expectedPass.has(id)) expect.fail(`on expected-pass-graphdef.txt but KNOWN: ${o.reason}`);
      ctx.skip(`known: ${o.reason}`);
      return;
    }
    if (o.kind === 'fail') expect.fail(o.message);
    expect(o.kind).toBe('pass');
  });
});

test('every case on expected-pass-graphdef.txt was written and passed', () => {
  if (WRITE) {
    const rows = [...passed].sort((a, b) => a[0].localeCompare(b[0])).map(([id, oracle]) => `${id} ${oracle}`);
    writeFileSync(EXPECTED_PASS_FILE, `# ONNX backend cases whose written .pb computes the expected outputs, and the oracle that ran it (see graphdef-writer.test.ts); regenerate with NNPORT_CONFORMANCE_WRITE=1\n${rows.join('\n')}\n`);
    return expect(passed.size).toBeGreaterThan(0);
  }
  const lost = [...expectedPass]
    .filter(([id, oracle]) => (!passed.has(id) || (oracle === 'opencv' && passed.get(id) !== 'opencv')) && (!ONLY || ONLY.test(id)))
    .map(([id, oracle]) => (passed.has(id) ? `${id} (passed by ${oracle}, now by ${passed.get(id)} only)` : id));
  expect(lost, `${lost.length} expected cases did not pass: ${lost.slice(0, 20).join(', ')}`).toEqual([]);
});

afterAll(() => {
  const byReason = new Map<string, string[]>();
  for (const [id, r] of tally.refused) {
    const key = r.replace(/'[^']*'/g, "'…'").slice(0, 100);
    byReason.set(key, [...(byReason.get(key) ?? []), id.replace(/^[^/]+\/test_/, '').replace(/^[^/]+\//, '')]);
  }
  const lines = [
    `=== GraphDef writer conformance: ${tally.written} written, ${tally.opencv.length} passed by OpenCV, ${tally.numpy.length} passed by the NumPy runner only, ` +
      `${tally.failed.length + tally.errors.length} failed, ${tally.known.length} known (OpenCV wrong), ${tally.refused.length} refused (UnsupportedError), ` +
      `${tally.notRead.length} not read by nnport, ${tally.notComparable.length} not comparable ===`,
  ];
  for (const id of tally.failed) lines.push(`failed: ${id}: ${tally.why.get(id)}`);
  if (tally.errors.length) lines.push(`errors: ${tally.errors.join(', ')}`);
  if (tally.numpy.length) lines.push('passed by the NumPy runner, by why OpenCV could not run them:');
  for (const [why, ids] of [...tally.opencvCannot].sort((a, b) => b[1].length - a[1].length)) lines.push(`  ${why} (${ids.length}): ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ', …' : ''}`);
  lines.push(`the NumPy runner matches too on ${tally.opencv.length - tally.numpyCannot.length} of the ${tally.opencv.length} cases OpenCV passes${tally.numpyCannot.length ? `; it cannot run ${tally.numpyCannot.join(', ')}` : ''}`);
  for (const [id, r] of tally.known) lines.push(`known: ${id}: ${r}`);
  lines.push('refused, by reason:');
  for (const [r, ids] of [...byReason].sort((a, b) => b[1].length - a[1].length)) lines.push(`  ${r} (${ids.length}): ${ids.slice(0, 12).join(', ')}${ids.length > 12 ? ', …' : ''}`);
  console.log(lines.join('\n'));
});

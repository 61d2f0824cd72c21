// The ONNX backend test cases written as TF.js graph models (model.json + shards) by nnport and run
// by TensorFlow.js 4.9 itself (CPU backend; tf.loadGraphModel through its HTTP loader, then
// GraphModel.execute), compared with each case's expected outputs.
//
// A case the writer refuses must be refused with an UnsupportedError (any other error fails); a
// written case that TF.js cannot load or run, or whose outputs differ, fails.
// expected-pass-tfjs-graph.txt (committed) lists every case that passes: one that fails, is refused
// or goes missing fails the run. Each written model is also read back by nnport's own graph-model
// reader (src/formats/tensorflow/tfjs-graph.ts) and run by nnport's runtime on the same feeds;
// expected-pass-tfjs-graph-readback.txt lists the cases whose read-back gives the expected outputs.
// Regenerate both with
// NNPORT_CONFORMANCE_WRITE=1 npx vitest run --config vitest.conformance.config.ts test/conformance/tfjs-graph-writer.test.ts
import { afterAll, beforeAll, expect, test } from 'vitest';
import { convert, loadModel, loadModelFiles, run } from '../../src/index.js';
import { NnportError, UnsupportedError } from '../../src/ir/errors.js';
import { Tensor } from '../../src/ir/tensor.js';
import { needsChannelsLast } from '../../src/passes/layout.js';
import { loadWrittenGraphModel, runGraphModel, tf } from '../formats/tfjs/graph-oracle.js';
import { BACKEND_SUITES, conformanceCases, describeBySuite, expectedPassTest, loadDataSets, NOT_COMPARABLE } from './harness.js';
import { outputProblem, placeholderFeed, type PlaceholderSpec, tfName } from './graphdef-writer-run.js';
import { dtypeFromTf } from '../../src/formats/tensorflow/data-types.js';
import { join } from 'node:path';

const EXPECTED_PASS_FILE = new URL('./expected-pass-tfjs-graph.txt', import.meta.url);
const READBACK_FILE = new URL('./expected-pass-tfjs-graph-readback.txt', import.meta.url);
const readBack = new Set<string>();

type Outcome =
  | { kind: 'pass' }
  | { kind: 'fail'; message: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'not-read'; reason: string }
  | { kind: 'not-comparable'; reason: string };


/** Every Placeholder of the written model.json, by node name, read from the JSON (not through nnport's reader). */
function placeholders(json: Uint8Array): Map<string, PlaceholderSpec> {
  const j = JSON.parse(new TextDecoder().decode(json)) as { modelTopology: { node: Array<{ name: string; op: string; attr?: Record<string, { type?: string; shape?: { dim?: Array<{ size: string }>; unknownRank?: boolean } }> }> } };
  const names: Record<string, number> = { DT_FLOAT: 1, DT_DOUBLE: 2, DT_INT32: 3, DT_UINT8: 4, DT_INT16: 5, DT_INT8: 6, DT_INT64: 9, DT_BOOL: 10, DT_UINT16: 17, DT_HALF: 19, DT_UINT32: 22, DT_UINT64: 23 };
  return new Map(
    j.modelTopology.node
      .filter((n) => n.op === 'Placeholder')
      .map((n) => {
        const dt = dtypeFromTf(names[n.attr?.dtype?.type ?? 'DT_FLOAT'] ?? 1);
        const shape = n.attr?.shape?.shape;
        return [n.name, { dtype: 'dtype' in dt ? dt.dtype : undefined, dims: shape?.unknownRank ? undefined : (shape?.dim ?? []).map((d) => Number(d.size)) }] as const;
      }),
  );
}

async function runCase(dir: string, id: string): Promise<Outcome> {
  const name = id.split('/')[1]!;
  if (NOT_COMPARABLE[name]) return { kind: 'not-comparable', reason: NOT_COMPARABLE[name]! };
  let model;
  try {
    model = await loadModelFiles([join(dir, 'model.onnx')]);
  } catch (e) {
    return { kind: 'not-read', reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  if (model.kind !== 'graph') return { kind: 'fail', message: `read as ${model.kind}, not a graph` };
  const graph = model.graph;
  let written;
  try {
    written = await convert(model, 'out/model.json', { tfjsFormat: 'graph' });
  } catch (e) {
    if (e instanceof UnsupportedError) return { kind: 'refused', reason: e.message };
    return { kind: 'fail', message: `refused without an UnsupportedError: ${e instanceof NnportError ? e.name : 'untyped'} ${e instanceof Error ? e.message : String(e)}` };
  }
  let tfModel: tf.GraphModel;
  try {
    tfModel = await loadWrittenGraphModel({ json: written.bytes, sidecars: written.sidecars });
  } catch (e) {
    return { kind: 'fail', message: `TF.js cannot load it: ${e instanceof Error ? e.message : String(e)}` };
  }
  const phs = placeholders(written.bytes);
  const spatial = needsChannelsLast(graph);
  const inputNames = graph.inputs.filter((v) => !graph.initializers.has(v.name)).map((v) => tfName(v.name));
  const outputNames = graph.outputs.map((o) => tfName(o.name));
  const problems: string[] = [];
  await readBackCase(id, dir, written, phs, spatial, inputNames, outputNames);
  try {
    for (const set of loadDataSets(dir, graph)) {
      const feeds: Tensor[] = [];
      const names: string[] = [];
      set.inputs.forEach((t, i) => {
        const ph = phs.get(inputNames[i] ?? '');
        if (!ph) return; // an input the written graph no longer reads
        feeds.push(placeholderFeed(t, ph, spatial));
        names.push(inputNames[i]!);
      });
      const ys = await runGraphModel(tfModel, feeds, names, outputNames);
      set.outputs.forEach((expected, k) => {
        const diff = outputProblem(ys[k]!, expected, spatial);
        if (diff) problems.push(`${set.name}: output ${k} '${graph.outputs[k]!.name}': ${diff}`);
      });
    }
  } catch (e) {
    return { kind: 'fail', message: `TF.js cannot run it: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    tfModel.dispose();
  }
  return problems.length ? { kind: 'fail', message: problems.join('\n') } : { kind: 'pass' };
}

/** nnport's reader and runtime on the written files: every data set's outputs as expected (then the case joins readBack). */
async function readBackCase(id: string, dir: string, written: { bytes: Uint8Array; sidecars: ReadonlyMap<string, Uint8Array> }, phs: Map<string, PlaceholderSpec>, spatial: boolean, inputNames: string[], outputNames: string[]): Promise<void> {
  try {
    const model = await loadModel(written.bytes, {
      fileName: 'model.json',
      readSibling: async (p: string) => {
        const b = written.sidecars.get(p);
        if (!b) throw new Error(`no ${p}`);
        return b;
      },
    });
    if (model.kind !== 'graph') return;
    const source = await loadModelFiles([join(dir, 'model.onnx')]);
    if (source.kind !== 'graph') return;
    for (const set of loadDataSets(dir, source.graph)) {
      const feeds = new Map<string, Tensor>();
      set.inputs.forEach((t, i) => {
        const ph = phs.get(inputNames[i] ?? '');
        // the reader keeps only the Placeholders the outputs read
        if (ph && model.graph.inputs.some((v) => v.name === inputNames[i])) feeds.set(inputNames[i]!, placeholderFeed(t, ph, spatial));
      });
      const { outputs } = await run(model, feeds);
      const ok = set.outputs.every((expected, k) => {
        const y = outputs.get(outputNames[k]!);
        return y !== undefined && !outputProblem(y, expected, spatial);
      });
      if (!ok) {
        if (process.env.NNPORT_DEBUG_READBACK) console.log(`read-back ${id}: outputs differ ${set.outputs.map((e, k) => { const y = outputs.get(outputNames[k]!); return y ? outputProblem(y, e, spatial) : `no ${outputNames[k]} in ${[...outputs.keys()].join(',')}`; }).join('; ')}`);
        return;
      }
    }
    readBack.add(id);
  } catch (e) {
    // not read back: the case is left off the read-back list
    if (process.env.NNPORT_DEBUG_READBACK) console.log(`read-back ${id}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const cases = conformanceCases(BACKEND_SUITES);
const outcomes = new Map<string, Outcome>();
const passed = new Set<string>();
const tally = { refused: [] as [string, string][], failed: [] as [string, string][], notRead: 0, notComparable: 0 };

describeBySuite(cases, (c) => {
  const id = `${c.suite}/${c.name}`;
  test(c.name, async (ctx) => {
    const o = await runCase(c.dir, id).catch((e: unknown): Outcome => ({ kind: 'fail', message: `crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` }));
    outcomes.set(id, o);
    if (o.kind === 'pass') {
      passed.add(id);
      return expect(o.kind).toBe('pass');
    }
    if (o.kind === 'fail') {
      tally.failed.push([id, o.message.split('\n')[0]!.slice(0, 200)]);
      expect.fail(o.message);
    }
    if (o.kind === 'refused') tally.refused.push([id, o.reason]);
    else if (o.kind === 'not-read') tally.notRead++;
    else tally.notComparable++;
    ctx.skip(`${o.kind}: ${o.reason.slice(0, 160)}`);
  });
});

expectedPassTest(EXPECTED_PASS_FILE, 'ONNX backend cases whose written TF.js graph model, run by TensorFlow.js 4.9, computes the expected outputs (see tfjs-graph-writer.test.ts)', () => passed);
expectedPassTest(READBACK_FILE, "ONNX backend cases whose written TF.js graph model, read back by nnport's graph-model reader and run by its runtime, computes the expected outputs (see tfjs-graph-writer.test.ts)", () => readBack, 'was read back and passed');

afterAll(() => {
  const byReason = new Map<string, string[]>();
  for (const [id, r] of tally.refused) {
    const key = r.replace(/'[^']*'/g, "'…'").replace(/\(node .*$/, '').slice(0, 110);
    byReason.set(key, [...(byReason.get(key) ?? []), id.replace(/^[^/]+\/test_/, '')]);
  }
  const lines = [`=== TF.js graph-model writer conformance: ${passed.size} passed in TF.js (${readBack.size} read back by nnport and passed), ${tally.failed.length} failed, ${tally.refused.length} refused (UnsupportedError), ${tally.notRead} not read by nnport, ${tally.notComparable} not comparable ===`];
  for (const [id, why] of tally.failed) lines.push(`failed: ${id}: ${why}`);
  lines.push('refused, by reason:');
  for (const [r, ids] of [...byReason].sort((a, b) => b[1].length - a[1].length)) lines.push(`  ${r} (${ids.length}): ${ids.slice(0, 12).join(', ')}${ids.length > 12 ? ', …' : ''}`);
  console.log(lines.join('\n'));
});

// Shared harness for peer conformance suites laid out like the ONNX backend tests:
// <suite>/<case>/model.onnx + test_data_set_N/{input,output}_K.pb. Data first: list the
// cases, classify each (run / skip with a reason), run it, compare outputs, summarise.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { UnsupportedError } from '../../src/ir/errors.js';
import type { Graph, ValueInfo } from '../../src/ir/graph.js';
import { OptionalValue, TensorSequence, describeValue } from '../../src/ir/seq-values.js';
import type { DType } from '../../src/ir/dtypes.js';
import { Tensor } from '../../src/ir/tensor.js';
import { readOnnx, readTensorProto } from '../../src/formats/onnx/read.js';
import { readValueProto } from '../../src/formats/onnx/value-proto.js';
import { runGraph } from '../../src/runtime/executor.js';
import type { OpTable } from '../../src/runtime/op.js';

export const ONNX_TESTDATA = process.env.ONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data';

/** The suites of the ONNX backend test data the conformance suites run, in order. */
export const BACKEND_SUITES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'] as const;

/**
 * Cases whose expected outputs no converted inference model can reproduce (the writers' and
 * read-back suites skip them with the reason).
 */
export const NOT_COMPARABLE: Readonly<Record<string, string>> = {
  test_training_dropout: 'training-mode Dropout draws a random mask',
  test_training_dropout_default: 'training-mode Dropout draws a random mask',
  test_training_dropout_default_mask: 'training-mode Dropout draws a random mask',
  test_training_dropout_mask: 'training-mode Dropout draws a random mask',
  // ONNX 1.12 generated bfloat16 expectations by truncating float32; Cast rounds to nearest even (as onnx-backend.test.ts says)
  test_cast_FLOAT_to_BFLOAT16: 'expected output truncates float32 to bfloat16 instead of rounding to nearest even',
  test_castlike_FLOAT_to_BFLOAT16: 'expected output truncates float32 to bfloat16 instead of rounding to nearest even',
  test_castlike_FLOAT_to_BFLOAT16_expanded: 'expected output truncates float32 to bfloat16 instead of rounding to nearest even',
};

export const MISSING_TESTDATA_MESSAGE = `ONNX backend test data not found at ${ONNX_TESTDATA}: install it with \`apt-get install libonnx-testdata\` (or set ONNX_TESTDATA to a directory holding node/, pytorch-converted/, ...)`;

export interface Tolerance {
  rtol: number;
  atol: number;
}

/** NNPORT_CONFORMANCE_WRITE=1: the suites write their expected-pass lists anew instead of checking them. */
export const WRITE_EXPECTED = process.env.NNPORT_CONFORMANCE_WRITE === '1';

/** The rows of a committed expected-pass list (blank lines and # comments dropped); none while writing them anew. */
export function expectedPassRows(file: URL): string[] {
  if (WRITE_EXPECTED) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/**
 * NNPORT_CONFORMANCE_ONLY=<regexp>: only the cases whose `suite/name` it matches run (and only
 * those of an expected-pass list are checked).
 */
export const ONLY = process.env.NNPORT_CONFORMANCE_ONLY ? new RegExp(process.env.NNPORT_CONFORMANCE_ONLY) : undefined;

/**
 * The cases of `suites` under ONNX_TESTDATA (NNPORT_CONFORMANCE_ONLY applied), and the test that
 * fails, naming the Debian package, when the test data is not installed. Call it at the top level
 * of a suite file.
 */
export function conformanceCases(suites: readonly string[]): ConformanceCase[] {
  const all = existsSync(ONNX_TESTDATA) ? listCases(ONNX_TESTDATA, suites) : [];
  test('ONNX backend test data is installed', () => {
    expect(existsSync(ONNX_TESTDATA), MISSING_TESTDATA_MESSAGE).toBe(true);
    expect(all.length, `no cases found under ${ONNX_TESTDATA}`).toBeGreaterThan(0);
  });
  return all.filter((c) => !ONLY || ONLY.test(`${c.suite}/${c.name}`));
}

/** The `suite/case` a row of an expected-pass list names (rows may add a mode before or an oracle after it). */
const caseIdOf = (row: string): string => /(?:^|[\s/])((?:node|pytorch-converted|pytorch-operator|simple)\/\S+)/.exec(row)?.[1] ?? row;

/**
 * One describe per backend suite, in BACKEND_SUITES order, holding `each` of that suite's items (a
 * case, or a tuple whose first element is the case); a suite with no items gets none.
 */
export function describeBySuite<T extends { suite: string } | readonly [{ suite: string }, ...unknown[]]>(items: readonly T[], each: (item: T) => void): void {
  const suiteOf = (item: T): string => ('suite' in item ? item.suite : item[0].suite);
  for (const suite of BACKEND_SUITES) {
    const mine = items.filter((item) => suiteOf(item) === suite);
    if (mine.length) describe(suite, () => mine.forEach(each));
  }
}

/**
 * The test that every row of a committed expected-pass list passed: `passed()` gives the rows that
 * did (called when the test runs, after the cases). With NNPORT_CONFORMANCE_WRITE=1 it writes the
 * list anew instead, headed by `header` (one comment line). `what` says what a row's pass means.
 */
export function expectedPassTest(file: URL, header: string, passed: () => Iterable<string>, what = 'ran and passed'): void {
  const expected = expectedPassRows(file);
  const name = file.pathname.split('/').pop()!;
  test(`every case on ${name} ${what}`, () => {
    const got = new Set(passed());
    if (WRITE_EXPECTED) {
      writeFileSync(file, `# ${header}; regenerate with NNPORT_CONFORMANCE_WRITE=1\n${[...got].sort().join('\n')}\n`);
      return expect(got.size).toBeGreaterThan(0);
    }
    const lost = expected.filter((row) => !got.has(row) && (!ONLY || ONLY.test(caseIdOf(row))));
    expect(lost, `${lost.length} expected cases did not pass: ${lost.slice(0, 20).join(', ')}`).toEqual([]);
  });
}

export const DEFAULT_TOLERANCE: Tolerance = { rtol: 1e-3, atol: 1e-5 };

export interface ConformanceCase {
  suite: string;
  name: string;
  dir: string;
}

export type Classification =
  | { kind: 'run'; graph: Graph }
  | { kind: 'unsupported-op'; ops: string[] }
  | { kind: 'expected-failure'; reason: string }
  | { kind: 'unsupported-feature'; reason: string }
  | { kind: 'load-error'; message: string };

/** Cases of `suites` under `root`, sorted by name; [] for a suite that is absent. */
export function listCases(root: string, suites: readonly string[]): ConformanceCase[] {
  const out: ConformanceCase[] = [];
  for (const suite of suites) {
    const sdir = join(root, suite);
    if (!existsSync(sdir)) continue;
    for (const name of readdirSync(sdir).sort()) {
      const dir = join(sdir, name);
      if (statSync(dir).isDirectory() && existsSync(join(dir, 'model.onnx'))) out.push({ suite, name, dir });
    }
  }
  return out;
}

/** Every op type of a graph and its subgraphs, as `domain.Op` for non-default domains. */
export function graphOps(graph: Graph): Set<string> {
  const ops = new Set<string>();
  const walk = (g: Graph) => {
    for (const n of g.nodes) {
      ops.add(n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType);
      for (const a of Object.values(n.attrs)) {
        if (a.type === 'graph') walk(a.value);
        if (a.type === 'graphs') a.value.forEach(walk);
      }
    }
  };
  walk(graph);
  return ops;
}

/**
 * Read a case's model and decide whether to run it. `expected` maps case names to the
 * reason the suite's case cannot pass by design (training mode, randomness, ...).
 */
export async function classifyCase(c: ConformanceCase, ops: OpTable, expected: Readonly<Record<string, string>> = {}): Promise<Classification> {
  const reason = expected[c.name];
  if (reason) return { kind: 'expected-failure', reason };
  let graph: Graph;
  try {
    graph = await readOnnx(readFileSync(join(c.dir, 'model.onnx')), { fileName: join(c.dir, 'model.onnx') });
  } catch (e) {
    if (e instanceof UnsupportedError) return { kind: 'unsupported-feature', reason: `reader: ${e.message}` };
    // A model the reader rejects is a failure of that case, not of the whole suite.
    return { kind: 'load-error', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  const missing = [...graphOps(graph)].filter((op) => !ops[op.includes('.') ? op.replace(/^(.*)\.([^.]+)$/, '$1::$2') : op]);
  const foreign = missing.filter((op) => op.includes('.'));
  if (foreign.length) return { kind: 'expected-failure', reason: `ops of a non-default domain: ${foreign.sort().join(', ')}` };
  if (missing.length) return { kind: 'unsupported-op', ops: missing.sort() };
  return { kind: 'run', graph };
}

export interface DataSet {
  name: string;
  inputs: Tensor[];
  outputs: Tensor[];
}

function numbered(dir: string, prefix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
    .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)));
}

/** A case's data sets; with its graph, the inputs and outputs it declares as sequences / optionals are read as such. */
export function loadDataSets(dir: string, graph?: Graph): DataSet[] {
  const inputs = graph?.inputs.filter((v) => !graph.initializers.has(v.name));
  return readdirSync(dir)
    .filter((d) => d.startsWith('test_data_set_'))
    .sort()
    .map((d) => {
      const ddir = join(dir, d);
      const read = (declared: readonly ValueInfo[] | undefined) => (f: string, i: number) => {
        const v = declared?.[i];
        const bytes = readFileSync(join(ddir, f));
        return v?.kind ? readValueProto(bytes, v.kind, v.dtype, join(ddir, f)) : readTensorProto(bytes, join(ddir, f));
      };
      return { name: d, inputs: numbered(ddir, 'input_').map(read(inputs)), outputs: numbered(ddir, 'output_').map(read(graph?.outputs)) };
    });
}

/** undefined when `actual` matches `expected`; otherwise what differs. */
export function compareTensors(actual: Tensor, expected: Tensor, tol: Tolerance = DEFAULT_TOLERANCE): string | undefined {
  // sequences and optionals: the same kind, then tensor by tensor
  if (expected instanceof TensorSequence || expected instanceof OptionalValue || actual instanceof TensorSequence || actual instanceof OptionalValue) {
    if (expected instanceof TensorSequence && actual instanceof TensorSequence) {
      if (actual.elements.length !== expected.elements.length) return `a sequence of ${actual.elements.length} tensors, expected ${expected.elements.length}`;
      for (const [i, e] of expected.elements.entries()) {
        const d = compareTensors(actual.elements[i]!, e, tol);
        if (d) return `sequence element ${i}: ${d}`;
      }
      return actual.dtype === expected.dtype ? undefined : `a sequence of ${actual.dtype}, expected ${expected.dtype}`;
    }
    if (expected instanceof OptionalValue && actual instanceof OptionalValue) {
      if (!expected.value || !actual.value) return !expected.value === !actual.value ? undefined : `${describeValue(actual)}, expected ${describeValue(expected)}`;
      return compareTensors(actual.value, expected.value, tol);
    }
    return `${describeValue(actual)}, expected ${describeValue(expected)}`;
  }
  if (actual.dtype !== expected.dtype) return `dtype ${actual.dtype}, expected ${expected.dtype}`;
  if (actual.shape.length !== expected.shape.length || actual.shape.some((d, i) => d !== expected.shape[i])) {
    return `shape [${actual.shape.join(', ')}], expected [${expected.shape.join(', ')}]`;
  }
  if (expected.dtype === 'string' || expected.dtype === 'int64' || expected.dtype === 'uint64') {
    const a = actual.data as ArrayLike<unknown>;
    const e = expected.data as ArrayLike<unknown>;
    for (let i = 0; i < e.length; i++) if (a[i] !== e[i]) return `element ${i}: ${String(a[i])}, expected ${String(e[i])}`;
    return undefined;
  }
  const a = actual.toNumbers();
  const e = expected.toNumbers();
  const exact = !['float32', 'float64', 'float16', 'bfloat16'].includes(expected.dtype);
  let bad = 0;
  let first = '';
  for (let i = 0; i < e.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    const ok = exact ? x === y : x === y || Math.abs(x - y) <= tol.atol + tol.rtol * Math.abs(y);
    if (!ok) {
      if (!bad) first = `element ${i}: ${x}, expected ${y}`;
      bad++;
    }
  }
  return bad ? `${bad}/${e.length} elements differ (${first})` : undefined;
}

export type CaseResult = { kind: 'pass' } | { kind: 'fail'; message: string } | { kind: 'unsupported-feature'; reason: string };

/** Older test data stores bfloat16 tensors as uint16 bits; retag them as the graph declares. */
function asDeclared(t: Tensor, dtype: DType | undefined): Tensor {
  return dtype === 'bfloat16' && t.dtype === 'uint16' ? new Tensor('bfloat16', t.shape, t.data) : t;
}

/** Run every data set of a case through the runtime and compare each output. */
export async function runCase(c: ConformanceCase, graph: Graph, tol: Tolerance = DEFAULT_TOLERANCE): Promise<CaseResult> {
  const sets = loadDataSets(c.dir, graph);
  if (!sets.length) return { kind: 'fail', message: 'no test_data_set_* directories' };
  const inputNames = graph.inputs.filter((v) => !graph.initializers.has(v.name)).map((v) => v.name);
  const problems: string[] = [];
  for (const set of sets) {
    const feeds = new Map<string, Tensor>();
    set.inputs.forEach((t, i) => {
      const name = inputNames[i];
      if (name) feeds.set(name, asDeclared(t, graph.inputs.find((v) => v.name === name)?.dtype));
    });
    let outputs: Map<string, Tensor>;
    try {
      outputs = (await runGraph(graph, feeds)).outputs;
    } catch (e) {
      if (e instanceof UnsupportedError) return { kind: 'unsupported-feature', reason: e.message };
      throw e;
    }
    set.outputs.forEach((expected, i) => {
      const name = graph.outputs[i]?.name;
      const actual = name ? outputs.get(name) : undefined;
      if (!actual) {
        problems.push(`${set.name}: output ${i} not produced`);
        return;
      }
      const diff = compareTensors(actual, asDeclared(expected, graph.outputs[i]?.dtype), tol);
      if (diff) problems.push(`${set.name}: output ${i} '${name}': ${diff}`);
    });
  }
  return problems.length ? { kind: 'fail', message: problems.join('\n') } : { kind: 'pass' };
}

/** Tallies of a suite run, printed at the end so that skips are visible, never hidden. */
export class ConformanceReport {
  readonly passed: string[] = [];
  readonly failed: string[] = [];
  readonly skippedByOp = new Map<string, string[]>();
  readonly unsupportedFeature: Array<[string, string]> = [];
  readonly expectedFailures: Array<[string, string]> = [];

  record(id: string, what: Classification | CaseResult): void {
    switch (what.kind) {
      case 'pass':
        this.passed.push(id);
        break;
      case 'fail':
      case 'load-error':
        this.failed.push(id);
        break;
      case 'unsupported-op':
        for (const op of what.ops) {
          let l = this.skippedByOp.get(op);
          if (!l) this.skippedByOp.set(op, (l = []));
          l.push(id);
        }
        break;
      case 'unsupported-feature':
        this.unsupportedFeature.push([id, what.reason]);
        break;
      case 'expected-failure':
        this.expectedFailures.push([id, what.reason]);
        break;
      case 'run':
        break;
    }
  }

  summary(title: string): string {
    const skippedOp = new Set([...this.skippedByOp.values()].flat());
    const lines = [
      `=== ${title}: ${this.passed.length} passed, ${this.failed.length} failed, ${skippedOp.size} skipped (unsupported ops), ` +
        `${this.unsupportedFeature.length} skipped (unsupported feature), ${this.expectedFailures.length} skipped (expected failures) ===`,
    ];
    if (this.failed.length) lines.push(`failed: ${this.failed.join(', ')}`);
    if (this.skippedByOp.size) {
      lines.push('skipped for unsupported ops:');
      for (const [op, ids] of [...this.skippedByOp].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))) {
        lines.push(`  ${op} (${ids.length}): ${ids.join(', ')}`);
      }
    }
    if (this.unsupportedFeature.length) {
      lines.push('skipped for unsupported features:');
      for (const [id, r] of this.unsupportedFeature) lines.push(`  ${id}: ${r}`);
    }
    if (this.expectedFailures.length) {
      lines.push('expected failures (skipped):');
      for (const [id, r] of this.expectedFailures) lines.push(`  ${id}: ${r}`);
    }
    return lines.join('\n');
  }
}

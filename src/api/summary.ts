import type { DType } from '../ir/dtypes.js';
import { NnportError } from '../ir/errors.js';
import { callerDim, runtimeInputs, type Dim, type Graph } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { shapeSize, type Tensor } from '../ir/tensor.js';
import type { Listing, LoadedModel } from '../formats/model.js';
import { formatById } from '../formats/registry.js';

export interface ValueSummary {
  name: string;
  dtype: DType;
  shape: Dim[] | null;
}

/** A value's inferred dtype and shape (null where inference cannot tell), and the op that makes it. */
export interface InferredValue {
  name: string;
  dtype: DType | null;
  shape: Dim[] | null;
  /** the producing op ('input' for a graph input) */
  op: string;
}

export interface WeightSummary {
  name: string;
  dtype: DType;
  shape: number[];
  bytes: number;
}

/** What `nnport inspect` shows; also the JSON of `inspect --json`. */
export interface ModelSummary {
  file: string;
  format: string;
  title: string;
  producer?: string;
  irVersion?: number;
  opsets?: Record<string, number>;
  inputs: ValueSummary[];
  outputs: ValueSummary[];
  /** op type -> count, most frequent first */
  ops: Record<string, number>;
  nodes: number;
  /** every graph input and node output with its inferred dtype and shape, in graph order */
  values?: InferredValue[];
  /** why some values' shapes are unknown: ops nnport does not define, shapes that do not fit */
  shapeNotes?: string[];
  weights: WeightSummary[];
  totalParameters: number;
  totalBytes: number;
  containers?: string[];
  selected?: string;
  scalars?: Record<string, string>;
  metadata?: Record<string, string>;
  /** format-specific tables (TensorFlow: source nodes, signatures, variables) */
  listings?: Listing[];
}

/** Every weight's row, and the totals `inspect` prints above them. */
function weightTable(tensors: ReadonlyMap<string, Tensor>): Pick<ModelSummary, 'weights' | 'totalParameters' | 'totalBytes'> {
  const weights = [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape], bytes: t.byteLength }));
  return {
    weights,
    totalParameters: weights.reduce((a, w) => a + shapeSize(w.shape), 0),
    totalBytes: weights.reduce((a, w) => a + w.bytes, 0),
  };
}

/** Every runtime input and node output with its inferred dtype and shape (the graph's valueInfo is filled too). */
function inferredValues(g: Graph): Pick<ModelSummary, 'values' | 'shapeNotes'> {
  let inferred: ReturnType<typeof inferShapes>;
  try {
    inferred = inferShapes(g, { onError: 'unknown' });
  } catch (e) {
    // a graph that cannot be ordered (cycle, missing input) still gets its summary
    if (!(e instanceof NnportError)) throw e;
    return { shapeNotes: [`no shape inference: ${e.message}`] };
  }
  const { values, unknownOps, errors } = inferred;
  const row = (name: string, op: string): InferredValue => {
    const v = values.get(name);
    // (a derived symbol is inference's own name for an unknown dim: shown as unknown, as the file has it)
    return { name, dtype: v?.dtype ?? null, shape: v?.shape ? v.shape.map(callerDim) : null, op };
  };
  const rows = runtimeInputs(g).map((v) => row(v.name, 'input'));
  for (const n of g.nodes) {
    const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    for (const o of n.outputs) if (o) rows.push(row(o, op));
  }
  const notes = [...(unknownOps.length ? [`no shape inference for ${unknownOps.join(', ')}`] : []), ...errors];
  return notes.length ? { values: rows, shapeNotes: notes } : { values: rows };
}

export function summarize(model: LoadedModel, file: string): ModelSummary {
  const handler = formatById(model.format);
  const base = { file, format: model.format, title: handler?.title ?? model.format };
  if (model.kind === 'weights') {
    return {
      ...base,
      inputs: [],
      outputs: [],
      ops: {},
      nodes: 0,
      ...weightTable(model.tensors),
      containers: model.containers,
      selected: model.selected,
      scalars: model.scalars,
      metadata: model.metadata,
      listings: model.listings,
    };
  }
  const g = model.graph;
  const ops = new Map<string, number>();
  for (const n of g.nodes) {
    const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    ops.set(key, (ops.get(key) ?? 0) + 1);
  }
  const meta = g.metadata;
  const producer = [meta?.producerName, meta?.producerVersion].filter(Boolean).join(' ');
  return {
    ...base,
    producer: producer || undefined,
    irVersion: meta?.irVersion,
    opsets: g.opsets,
    inputs: runtimeInputs(g).map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape ?? null })),
    outputs: g.outputs.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape ?? null })),
    ops: Object.fromEntries([...ops].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
    nodes: g.nodes.length,
    ...inferredValues(g),
    ...weightTable(g.initializers),
    metadata: meta?.props,
    listings: model.listings,
  };
}

function dims(shape: readonly Dim[] | null): string {
  return shape ? `[${shape.map((d) => d ?? '?').join(', ')}]` : '[?]';
}

function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** The human-readable text of `nnport inspect`. */
export function formatSummary(s: ModelSummary): string {
  const lines: string[] = [];
  lines.push(`${s.file}: ${s.title}`);
  if (s.producer) lines.push(`  producer: ${s.producer}`);
  if (s.irVersion !== undefined) lines.push(`  ir version: ${s.irVersion}`);
  if (s.opsets) lines.push(`  opsets: ${Object.entries(s.opsets).map(([d, v]) => `${d || 'ai.onnx'} ${v}`).join(', ')}`);
  if (s.containers?.length) lines.push(`  containers: ${s.containers.map((c) => (c === '' ? '(root)' : c)).join(', ')}${s.selected !== undefined ? `  [selected: ${s.selected || '(root)'}]` : ''}`);
  const scalars = Object.entries(s.scalars ?? {});
  // optimizer state repeats hyper-parameters per param group: show a few, count the rest (--json has all)
  if (scalars.length) lines.push(`  values: ${scalars.slice(0, 8).map(([k, v]) => `${k}=${v}`).join(', ')}${scalars.length > 8 ? `, ... (${scalars.length - 8} more; --json lists all)` : ''}`);
  if (s.metadata && Object.keys(s.metadata).length) lines.push(`  metadata: ${Object.entries(s.metadata).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (s.inputs.length || s.nodes) {
    lines.push('  inputs:');
    for (const v of s.inputs) lines.push(`    ${v.name}: ${v.dtype} ${dims(v.shape)}`);
    lines.push('  outputs:');
    for (const v of s.outputs) lines.push(`    ${v.name}: ${v.dtype} ${dims(v.shape)}`);
    lines.push(`  ops (${s.nodes} nodes):`);
    for (const [op, n] of Object.entries(s.ops)) lines.push(`    ${op.padEnd(28)} ${n}`);
  }
  if (s.values?.length) {
    lines.push(`  values (inferred dtype and shape, ? where unknown):`);
    const w = Math.min(60, Math.max(4, ...s.values.map((v) => v.name.length)));
    const ow = Math.min(28, Math.max(2, ...s.values.map((v) => v.op.length)));
    for (const v of s.values) lines.push(`    ${v.name.padEnd(w)}  ${v.op.padEnd(ow)}  ${(v.dtype ?? '?').padEnd(8)} ${dims(v.shape)}`);
  }
  for (const note of s.shapeNotes ?? []) lines.push(`  shapes: ${note}`);
  for (const l of s.listings ?? []) {
    lines.push(`  ${l.title} (${l.rows.length}):`);
    const widths = l.columns.map((c, i) => Math.min(48, Math.max(c.length, ...l.rows.map((r) => (r[i] ?? '').length))));
    const fmt = (r: string[]) => `    ${r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(widths[i]!))).join('  ')}`.trimEnd();
    lines.push(fmt(l.columns));
    for (const r of l.rows) lines.push(fmt(r));
  }
  lines.push(`  weights (${s.weights.length} tensors, ${s.totalParameters.toLocaleString('en-US')} parameters, ${humanBytes(s.totalBytes)}):`);
  // reduce, not Math.max(...list): a file may hold 100k+ weights, more than a call's arguments
  const w = Math.min(60, s.weights.reduce((m, x) => Math.max(m, x.name.length), 4));
  const shapes = s.weights.map((x) => `[${x.shape.join(', ')}]`);
  const sw = Math.min(40, shapes.reduce((m, x) => Math.max(m, x.length), 0));
  s.weights.forEach((x, i) => lines.push(`    ${x.name.padEnd(w)}  ${x.dtype.padEnd(8)} ${shapes[i]!.padEnd(sw)}  ${humanBytes(x.bytes).padStart(10)}`));
  return lines.join('\n');
}

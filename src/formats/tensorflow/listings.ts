// What `nnport inspect` shows of a TensorFlow file beyond the IR graph: its own nodes (op,
// inputs, device, attributes, output shapes), signatures, checkpoint variables with their
// optimizer slots marked, and the ops a freeze leaves out.
import type { Dim } from '../../ir/graph.js';
import type { Listing } from '../model.js';
import type { Bundle } from './bundle.js';
import { isOptimizerSlot } from './checkpoint.js';
import { tfDataTypeName } from './data-types.js';
import { describeAttr, type GraphDef } from './graph-def.js';
import { int64ToNumber, type Int64 } from './int64.js';
import type { MetaGraphDef } from './meta-graph.js';
import { shapeFromProto } from './tensor-proto.js';

const dims = (s: readonly Dim[] | undefined | null) => (s ? `[${s.map((d) => d ?? '?').join(', ')}]` : '?');

export function nodeListing(gd: GraphDef, shapes?: Map<string, (Dim[] | undefined)[]>): Listing {
  return {
    title: 'TensorFlow nodes',
    columns: ['name', 'op', 'inputs', 'device', 'output shapes', 'attrs'],
    rows: (gd.node ?? []).map((n) => {
      const attrs = Object.entries(n.attr ?? {})
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, a]) => (a.tensor ? `${k}=${tfDataTypeName(a.tensor.dtype ?? 0)} ${dims(shapeFromProto(a.tensor.tensor_shape))}` : `${k}=${describeAttr(a)}`));
      const outs = shapes?.get(n.name ?? '');
      return [n.name ?? '', n.op ?? '', (n.input ?? []).join(' '), n.device ?? '', outs ? outs.map(dims).join(' ') : '', attrs.join(' ')];
    }),
  };
}

export function variableListing(bundle: Bundle): Listing {
  return {
    title: 'checkpoint variables',
    columns: ['name', 'dtype', 'shape', 'bytes', 'kind'],
    rows: [...bundle.entries].map(([name, e]) => [
      name,
      tfDataTypeName(e.dtype ?? 0),
      dims(shapeFromProto(e.shape)),
      String(e.slices?.length ? 'partitioned' : int64ToNumber(e.size as Int64)),
      isOptimizerSlot(name) ? 'optimizer slot' : 'variable',
    ]),
  };
}

export function signatureListing(meta: MetaGraphDef): Listing {
  const t = (m: Record<string, { name?: string | null; dtype?: number | null; tensor_shape?: unknown }> | null | undefined) =>
    Object.entries(m ?? {})
      .map(([k, v]) => `${k}=${v.name ?? '?'} ${tfDataTypeName(v.dtype ?? 0)} ${dims(shapeFromProto(v.tensor_shape as never))}`)
      .join('; ');
  return {
    title: 'signatures',
    columns: ['name', 'method', 'inputs', 'outputs'],
    rows: Object.entries(meta.signature_def ?? {}).map(([k, s]) => [k, s.method_name ?? '', t(s.inputs), t(s.outputs)]),
  };
}

/** Ops of the full graph that the frozen inference graph does not keep (training, saving, init). */
export function outsideListing(full: GraphDef, kept: ReadonlySet<string>): Listing {
  const by = new Map<string, { count: number; example: string }>();
  for (const n of full.node ?? []) {
    if (kept.has(n.name ?? '')) continue;
    const r = by.get(n.op ?? '') ?? { count: 0, example: n.name ?? '' };
    r.count++;
    by.set(n.op ?? '', r);
  }
  return {
    title: 'ops outside the inference subgraph',
    columns: ['op', 'count', 'e.g.'],
    rows: [...by].sort((a, b) => b[1].count - a[1].count || a[0].localeCompare(b[0])).map(([op, r]) => [op, String(r.count), r.example]),
  };
}

/** The function library (TF2 graphs, tf.function traces): each function's arguments, results and what it calls. */
export function functionListing(gd: GraphDef): Listing {
  const lib = new Set((gd.library?.function ?? []).map((f) => f.signature?.name ?? ''));
  return {
    title: 'functions',
    columns: ['name', 'inputs', 'outputs', 'nodes', 'calls'],
    rows: (gd.library?.function ?? []).map((f) => {
      const sig = f.signature ?? {};
      const args = (a: readonly { name?: string | null; type?: number | null }[] | null | undefined) => (a ?? []).map((x) => `${x.name ?? ''}:${tfDataTypeName(x.type ?? 0)}`).join(' ');
      const calls = new Set<string>();
      for (const n of f.node_def ?? []) {
        const callee = n.attr?.f?.func?.name ?? (lib.has(n.op ?? '') ? n.op : undefined);
        if (callee) calls.add(callee);
      }
      return [sig.name ?? '', args(sig.input_arg), args(sig.output_arg), String(f.node_def?.length ?? 0), [...calls].join(' ')];
    }),
  };
}

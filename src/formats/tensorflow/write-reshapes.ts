// Before the GraphDef writer: reshapes that only add or drop dims of size 1 are taken out, and
// the Concat / Gather / Slice that read through them work on the original value with their axis
// re-numbered. The layout pass expresses a channel shuffle on values such as (H, W, C, 1)
// (a reshape of NHWC (1, H, W, C)); TF runs that as written, but OpenCV's importer treats every
// 4-D value as NHWC and cannot follow such a chain. Reshape is a view, so the result is exact.
import { attrInt, implicitInputs, type Attr, type Dim, type Graph, type Node } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';

const isStatic = (s: readonly Dim[] | null | undefined): s is number[] => !!s && s.every((d) => typeof d === 'number');
const nonUnit = (s: readonly number[]): number[] => s.filter((d) => d !== 1);
const sameDims = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** The axis of `phys` holding the same dim as axis `a` of `shape` (both have the same dims apart from 1s). */
function physicalAxis(shape: readonly number[], phys: readonly number[], a: number): number | undefined {
  if (shape[a] === 1) return undefined;
  const k = shape.slice(0, a).filter((d) => d !== 1).length;
  let seen = -1;
  for (let i = 0; i < phys.length; i++) if (phys[i] !== 1 && ++seen === k) return i;
  return undefined;
}

const int = (value: number): Attr => ({ type: 'int', value });
const isPlain = (n: Node): boolean => !n.domain || n.domain === 'ai.onnx';

export function collapseUnitReshapes(graph: Graph): Graph {
  const shapes = new Map([...inferShapes(graph, { onError: 'unknown' }).values].map(([k, v]) => [k, v.shape ?? null]));
  const shapeOf = (v: string): readonly Dim[] | null => graph.initializers.get(v)?.shape ?? shapes.get(v) ?? null;
  const initializers = new Map(graph.initializers);
  const producer = new Map<string, Node>();
  const nodes: Node[] = [];
  // IR value -> the value holding the same data in another shape (its `physShape`)
  const phys = new Map<string, string>();
  const physShape = new Map<string, number[]>();
  const fresh = (base: string): string => {
    let name = base;
    for (let k = 1; shapes.has(name) || initializers.has(name) || physShape.has(name); k++) name = `${base}_${k}`;
    return name;
  };
  // values an If / Loop body reads by name from around it: kept as they are
  const bodyReads = new Set(graph.nodes.flatMap((n) => implicitInputs(n)));

  for (const n0 of graph.nodes) {
    let n = n0;
    // a Reshape of a Reshape reads the first one's input
    const target = isPlain(n) && n.opType === 'Reshape' ? initializers.get(n.inputs[1] ?? '') : undefined;
    // (a target with 0 copies a dim of its own input: it cannot read another)
    if (target && !target.toNumbers().includes(0) && !bodyReads.has(n.outputs[0]!)) {
      let src = producer.get(n.inputs[0]!);
      while (src && isPlain(src) && src.opType === 'Reshape' && !attrAllowZero(src)) {
        n = { ...n, inputs: [src.inputs[0]!, ...n.inputs.slice(1)] };
        src = producer.get(n.inputs[0]!);
      }
      const from = phys.get(n.inputs[0]!) ?? n.inputs[0]!;
      const fromShape = physShape.get(from) ?? shapeOf(from);
      const outShape = shapeOf(n.outputs[0]!);
      if (isStatic(fromShape) && isStatic(outShape) && sameDims(nonUnit(fromShape), nonUnit(outShape))) {
        phys.set(n.outputs[0]!, from);
        physShape.set(from, fromShape);
        continue;
      }
    }
    if (isPlain(n) && (n.opType === 'Concat' || n.opType === 'Gather' || n.opType === 'Slice') && n.inputs.some((i) => phys.has(i)) && !bodyReads.has(n.outputs[0]!)) {
      const moved = relay(n);
      if (moved) {
        nodes.push(moved.node);
        for (const o of moved.node.outputs) producer.set(o, moved.node);
        phys.set(n.outputs[0]!, moved.out);
        physShape.set(moved.out, moved.shape);
        continue;
      }
    }
    nodes.push(n);
    for (const o of n.outputs) producer.set(o, n);
  }

  /** The node on the physical values, its output and that output's shape; undefined when the axes do not map. */
  function relay(n: Node): { node: Node; out: string; shape: number[] } | undefined {
    const data = n.opType === 'Concat' ? n.inputs : [n.inputs[0]!];
    const outShape = shapeOf(n.outputs[0]!);
    if (!isStatic(outShape)) return undefined;
    const ins = data.map((i) => {
      const p = phys.get(i) ?? i;
      return { p, shape: physShape.get(p) ?? shapeOf(p), ir: shapeOf(i) };
    });
    if (!ins.every((i) => isStatic(i.shape) && isStatic(i.ir))) return undefined;
    const rank = ins[0]!.ir!.length;
    const norm = (a: number) => (a < 0 ? a + rank : a);
    const mapAxis = (a: number): number | undefined => {
      const got = ins.map((i) => physicalAxis(i.ir as number[], i.shape as number[], norm(a)));
      return got.every((g) => g !== undefined && g === got[0]) ? got[0] : undefined;
    };
    const base = ins[0]!.shape as number[];
    const out = fresh(`${n.outputs[0]!}/collapsed`);
    const attrs = { ...n.attrs };
    const inputs = [...n.inputs];
    let axes: number[];
    if (n.opType === 'Slice') {
      const axesT = n.inputs[3] ? initializers.get(n.inputs[3]) : undefined;
      if (n.inputs[3] && !axesT) return undefined;
      axes = axesT ? axesT.toNumbers() : (initializers.get(n.inputs[1]!)?.toNumbers() ?? []).map((_, i) => i);
      if (!n.inputs[1] || !initializers.has(n.inputs[1])) return undefined;
    } else {
      axes = [attrInt(n, 'axis', 0)];
    }
    const mapped = axes.map(mapAxis);
    if (mapped.some((a) => a === undefined)) return undefined;
    if (n.opType === 'Concat') {
      // every input the same physical shape apart from the joined axis
      if (!ins.every((i) => (i.shape as number[]).length === base.length && (i.shape as number[]).every((d, k) => k === mapped[0] || d === base[k]))) return undefined;
      attrs.axis = int(mapped[0]!);
    } else if (n.opType === 'Gather') {
      const idx = initializers.get(n.inputs[1]!);
      if (!idx || idx.rank !== 1) return undefined;
      attrs.axis = int(mapped[0]!);
    } else {
      const name = fresh(`${n.name}/axes_collapsed`);
      initializers.set(name, Tensor.int64([mapped.length], mapped as number[]));
      while (inputs.length < 4) inputs.push('');
      inputs[3] = name;
    }
    const dataIns = ins.map((i) => i.p);
    if (n.opType === 'Concat') inputs.splice(0, inputs.length, ...dataIns);
    else inputs[0] = dataIns[0]!;
    // the output's physical shape: the input's with the moved axes resized as the IR output says
    const shape = [...base];
    for (let k = 0; k < axes.length; k++) shape[mapped[k]!] = outShape[norm(axes[k]!)]!;
    if (!sameDims(nonUnit(shape), nonUnit(outShape))) return undefined;
    return { node: { ...n, inputs, outputs: [out], attrs }, out, shape };
  }

  // values still read in their IR shape: the physical value itself when the shapes agree, else a Reshape
  const materialized = new Map<string, string>();
  const extra: Node[] = [];
  const read = (v: string): string => {
    const p = phys.get(v);
    if (!p) return v;
    const want = shapeOf(v) as number[];
    if (sameDims(physShape.get(p) ?? [], want)) return p;
    let m = materialized.get(v);
    if (!m) {
      m = fresh(`${v}/restored`);
      const shapeName = fresh(`${v}/restored_shape`);
      initializers.set(shapeName, Tensor.int64([want.length], want));
      extra.push({ name: m, opType: 'Reshape', domain: '', inputs: [p, shapeName], outputs: [m], attrs: {} });
      materialized.set(v, m);
    }
    return m;
  };
  let out = nodes.map((n) => ({ ...n, inputs: n.inputs.map((i) => (i ? read(i) : i)) }));
  const outputs = graph.outputs.map((o) => {
    if (!phys.has(o.name)) return o;
    const p = phys.get(o.name)!;
    const want = shapeOf(o.name) as number[];
    out.push({ name: o.name, opType: 'Reshape', domain: '', inputs: [p, (() => { const s = fresh(`${o.name}/shape`); initializers.set(s, Tensor.int64([want.length], want)); return s; })()], outputs: [o.name], attrs: {} });
    return o;
  });
  // Reshapes restoring an IR shape go right after the op that makes their input
  for (const e of extra) {
    const at = out.findIndex((n) => n.outputs.includes(e.inputs[0]!));
    out.splice(at + 1, 0, e);
  }
  // sweep what no one reads any more
  for (;;) {
    const used = new Set([...out.flatMap((n) => n.inputs), ...outputs.map((o) => o.name), ...bodyReads]);
    const kept = out.filter((n) => n.outputs.some((o) => used.has(o)));
    if (kept.length === out.length) break;
    out = kept;
  }
  const used = new Set([...out.flatMap((n) => n.inputs), ...outputs.map((o) => o.name), ...bodyReads]);
  for (const k of [...initializers.keys()]) if (!used.has(k) && !graph.inputs.some((v) => v.name === k)) initializers.delete(k);
  return { ...graph, nodes: out, outputs, initializers };
}

function attrAllowZero(n: Node): boolean {
  return attrInt(n, 'allowzero', 0) !== 0;
}

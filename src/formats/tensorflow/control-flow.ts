// TensorFlow 2's functional control flow: If / StatelessIf (tf.cond) and While / StatelessWhile
// (tf.while_loop) run functions of the GraphDef's library. Each function is converted the way
// the reader converts a graph (a GraphDef of one Placeholder per argument plus the function's
// body, its calls inlined) into an IR subgraph named under a prefix of its own:
// - If -> ONNX If: each branch reads the If's data inputs from the graph around it (ONNX
//   branches take no inputs). A constant condition splices the taken branch in directly.
// - While -> ONNX Loop without a trip count: the first condition is the cond function applied to
//   the initial values (spliced into the graph around it), the body is the body function
//   followed by the cond function on its results (the next iteration's condition), and every
//   input of the While is a loop-carried value.
import type { DType } from '../../ir/dtypes.js';
import { FormatError, GraphError, UnsupportedError } from '../../ir/errors.js';
import type { Dim, Graph, ValueInfo } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { tfDataType, dtypeFromTf } from './data-types.js';
import { expandFunction, libraryMap } from './functions.js';
import type { AttrValue, NodeDef } from './graph-def.js';
import { shapeFromProto } from './tensor-proto.js';
import { attr, type NodeCtx, type OpConvert, type TfValue } from './to-ir.js';

/** Functions running inside functions (an If in a While body in ...): deeper is refused. */
const MAX_DEPTH = 32;

interface Param {
  dtype: DType;
  shape?: Dim[];
}

type Apply = (fname: string, func: AttrValue['func'], args: string[], tag: string) => { ref: string; type: number }[];

interface Body {
  graph: Graph;
  /** the placeholder standing for each parameter, in order */
  params: string[];
}

function where(c: NodeCtx): string {
  return `${c.where()} in '${c.file}'`;
}

/** The function an attribute (then_branch, body, ...) names. */
function funcAttr(c: NodeCtx, key: string): NonNullable<AttrValue['func']> & { name: string } {
  const f = c.attrs.raw(key)?.func;
  if (!f?.name) throw new FormatError(`${c.where()} names no function in attribute '${key}'`, { file: c.file });
  return f as NonNullable<AttrValue['func']> & { name: string };
}

/** The DataTypes of a list attribute (Tin / Tout / T) as IR dtypes; resource and variant values refused by name. */
function typeList(c: NodeCtx, key: string, fns: string[]): DType[] | undefined {
  const types = c.attrs.raw(key)?.list?.type;
  if (!types) return undefined;
  return types.map((t, i) => {
    const d = dtypeFromTf(t);
    if ('dtype' in d) return d.dtype;
    const what = 'unsupported' in d ? d.unsupported : `DataType ${d.unknown}`;
    throw new UnsupportedError(
      `${c.op} carrying ${what} values (TensorList, TensorArray, variables)`,
      `value ${i} of ${where(c)}, functions ${fns.map((f) => `'${f}'`).join(', ')}`,
    );
  });
}

function shapeList(c: NodeCtx): (Dim[] | undefined)[] | undefined {
  const shapes = c.attrs.raw('output_shapes')?.list?.shape;
  return shapes?.length ? shapes.map((s) => shapeFromProto(s)) : undefined;
}

function shapeProto(shape: Dim[] | undefined): NonNullable<AttrValue['shape']> {
  if (!shape) return { unknown_rank: true };
  return { dim: shape.map((d) => ({ size: typeof d === 'number' ? d : -1 })) };
}

/**
 * A subgraph of placeholders for `params` and what `build` makes of them by applying library
 * functions; its outputs are the references `build` returns, each through an Identity of its own
 * (`prefix/out<i>`), and its inputs the placeholders.
 */
function convertBody(c: NodeCtx, prefix: string, params: Param[], build: (args: string[], apply: Apply) => string[]): Body {
  const file = c.file;
  const options = c.cv.options;
  const scope = options.flow ?? { chain: [], budget: { nodes: 0 } };
  if (scope.chain.length >= MAX_DEPTH) {
    throw new GraphError(`'${file}': control flow nested more than ${MAX_DEPTH} functions deep: ${scope.chain.join(' -> ')}`);
  }
  const library = libraryMap(options.library, file);
  const paramNames = params.map((_, i) => `${prefix}/_arg${i}`);
  const nodes: NodeDef[] = params.map((p, i) => ({
    name: paramNames[i]!,
    op: 'Placeholder',
    input: [],
    attr: { dtype: { type: tfDataType(p.dtype) }, shape: { shape: shapeProto(p.shape) } },
  }));
  const used: string[] = [];
  const apply: Apply = (fname, func, args, tag) => {
    if (!library.has(fname)) throw new FormatError(`${c.where()} runs function '${fname}', which the graph's library does not define`, { file });
    used.push(fname);
    const f = expandFunction(library, c.def, fname, args, `${prefix}/${tag}`, file, scope.chain, scope.budget, func);
    nodes.push(...f.nodes);
    return f.rets;
  };
  const refs = build(paramNames, apply);
  const uniq = [...new Set(refs)];
  let graph: Graph;
  try {
    graph = c.cv.subgraph(
      { node: nodes, library: options.library },
      { file, outputs: uniq, name: prefix, library: options.library, flow: { chain: [...scope.chain, ...used], budget: scope.budget } },
    );
  } catch (e) {
    if (e instanceof UnsupportedError && !e.message.includes('(in function')) {
      throw new UnsupportedError(e.feature, `${e.message.replace(/^unsupported: /, '')} (in function ${used.map((f) => `'${f}'`).join(' / ')} of ${c.where()})`);
    }
    throw e;
  }
  const produced = graph.outputs;
  graph.outputs = refs.map((r, i) => {
    const v = produced[uniq.indexOf(r)]!;
    const name = `${prefix}/out${i}`;
    graph.nodes.push({ name, opType: 'Identity', domain: '', inputs: [v.name], outputs: [name], attrs: {} });
    return { name, dtype: v.dtype, shape: v.shape };
  });
  graph.inputs = params.map((p, i) => ({ name: paramNames[i]!, dtype: p.dtype, shape: p.shape }));
  return { graph, params: paramNames };
}

/** A subgraph that reads outer values instead of taking inputs: each placeholder an Identity of its outer value. */
function bindOuter(body: Body, outer: string[]): Graph {
  const g = body.graph;
  const binds = body.params.map((p, i) => ({ name: p, opType: 'Identity', domain: '', inputs: [outer[i]!], outputs: [p], attrs: {} }));
  return { ...g, inputs: [], nodes: [...binds, ...g.nodes] };
}

/** A subgraph's nodes and initializers added to the graph being converted; its outputs' names. */
function splice(c: NodeCtx, g: Graph): ValueInfo[] {
  for (const n of g.nodes) c.cv.graph.nodes.push({ ...n, name: c.cv.nodeName(n.name) });
  for (const [k, t] of g.initializers) c.cv.graph.initializers.set(k, t);
  for (const o of g.outputs) c.cv.reserve(o.name);
  return g.outputs;
}

/** A condition (If's, a While cond function's result) as a bool: TF takes a nonzero number as true. */
function condShape(c: NodeCtx, shape: Dim[] | undefined, what: string): void {
  if (shape && shape.length > 0 && !shape.every((d) => d === 1)) {
    throw new UnsupportedError(`${c.op} with a non-scalar ${what}`, `${what} of ${where(c)} has shape [${shape.map((d) => d ?? '?').join(', ')}]`);
  }
}

function ifOp(c: NodeCtx): TfValue[] {
  const cond = c.input(0);
  const args = c.inputs.slice(1);
  const thenF = funcAttr(c, 'then_branch');
  const elseF = funcAttr(c, 'else_branch');
  const fns = [thenF.name, elseF.name];
  typeList(c, 'Tin', fns);
  const tout = typeList(c, 'Tout', fns);
  const shapes = shapeList(c);
  condShape(c, cond.shape, 'condition');
  const params = args.map((a) => ({ dtype: a.dtype, shape: a.shape }));
  const branch = (f: typeof thenF, key: string): Body => {
    const body = convertBody(c, c.cv.fresh(`${c.name}/${key}`), params, (ps, apply) => apply(f.name, f, ps, 'f').map((r) => r.ref));
    if (tout && body.graph.outputs.length !== tout.length) {
      throw new FormatError(`${c.where()}: function '${f.name}' gives ${body.graph.outputs.length} results, Tout lists ${tout.length}`, { file: c.file });
    }
    return body;
  };
  const outer = args.map((a) => c.use(a));
  const result = (outs: ValueInfo[], names: string[]): TfValue[] =>
    outs.map((o, i) => c.value(names[i]!, tout?.[i] ?? o.dtype, shapes?.[i] ?? o.shape));

  if (cond.value) {
    // a constant condition: only the branch taken, in line
    const taken = cond.value.toNumbers().some((v) => v !== 0) ? branch(thenF, 'then_branch') : branch(elseF, 'else_branch');
    const outs = splice(c, bindOuter(taken, outer));
    return result(outs, outs.map((o) => o.name));
  }
  const thenB = branch(thenF, 'then_branch');
  const elseB = branch(elseF, 'else_branch');
  if (thenB.graph.outputs.length !== elseB.graph.outputs.length) {
    throw new FormatError(`${c.where()}: then_branch '${thenF.name}' gives ${thenB.graph.outputs.length} results, else_branch '${elseF.name}' ${elseB.graph.outputs.length}`, { file: c.file });
  }
  let condName = c.use(cond);
  if (cond.dtype !== 'bool') {
    const b = c.tmp('cond_bool');
    c.emit('Cast', [condName], [b], { to: attr('int', 9) });
    condName = b;
  }
  if (cond.shape?.length) {
    const s = c.tmp('cond_scalar');
    c.emit('Reshape', [condName, c.int64([], 'scalar')], [s]);
    condName = s;
  }
  const names = thenB.graph.outputs.map((_, i) => c.out(i));
  c.emit('If', [condName], names, { then_branch: { type: 'graph', value: bindOuter(thenB, outer) }, else_branch: { type: 'graph', value: bindOuter(elseB, outer) } });
  const te = thenB.graph.outputs.map((t, i) => {
    const e = elseB.graph.outputs[i]!;
    const same = t.shape && e.shape && t.shape.length === e.shape.length && t.shape.every((d, k) => d === e.shape![k]);
    return { ...t, shape: same ? t.shape : undefined };
  });
  return result(te, names);
}

function whileOp(c: NodeCtx): TfValue[] {
  const args = c.inputs;
  const condF = funcAttr(c, 'cond');
  const bodyF = funcAttr(c, 'body');
  const fns = [condF.name, bodyF.name];
  const types = typeList(c, 'T', fns);
  if (types && types.length !== args.length) throw new FormatError(`${c.where()} has ${args.length} inputs, its attribute T lists ${types.length}`, { file: c.file });
  const shapes = shapeList(c);
  // TensorFlow's shape invariants (output_shapes) hold for every iteration; without them the initial shapes
  const params: Param[] = args.map((a, i) => ({ dtype: a.dtype, shape: shapes?.[i] ?? a.shape }));
  const outer = args.map((a) => c.use(a));

  // the first condition: cond on the initial values, in line
  const first = convertBody(c, c.cv.fresh(`${c.name}/cond_init`), params, (ps, apply) => {
    const r = apply(condF.name, condF, ps, 'f');
    if (r.length !== 1) throw new FormatError(`${c.where()}: cond function '${condF.name}' gives ${r.length} results, not 1`, { file: c.file });
    return [r[0]!.ref];
  });
  const [initCond] = splice(c, bindOuter(first, outer));
  condShape(c, initCond!.shape, `result of cond function '${condF.name}'`);
  let condName = initCond!.name;
  if (initCond!.dtype !== 'bool') {
    const b = c.tmp('cond_bool');
    c.emit('Cast', [condName], [b], { to: attr('int', 9) });
    condName = b;
  }
  if (initCond!.shape?.length) {
    const s = c.tmp('cond_scalar');
    c.emit('Reshape', [condName, c.int64([], 'scalar')], [s]);
    condName = s;
  }

  // the body: body function, then cond on its results
  const prefix = c.cv.fresh(`${c.name}/body`);
  const body = convertBody(c, prefix, params, (ps, apply) => {
    const rets = apply(bodyF.name, bodyF, ps, 'body');
    if (rets.length !== args.length) {
      throw new FormatError(`${c.where()}: body function '${bodyF.name}' gives ${rets.length} results for ${args.length} loop-carried values`, { file: c.file });
    }
    const next = apply(condF.name, condF, rets.map((r) => r.ref), 'cond');
    return [next[0]!.ref, ...rets.map((r) => r.ref)];
  });
  const g = body.graph;
  const condOut = g.outputs[0]!;
  if (condOut.dtype !== 'bool' || condOut.shape?.length) {
    let v = condOut.name;
    if (condOut.dtype !== 'bool') {
      const b = `${prefix}/cond_bool`;
      g.nodes.push({ name: b, opType: 'Cast', domain: '', inputs: [v], outputs: [b], attrs: { to: attr('int', 9) } });
      v = b;
    }
    if (condOut.shape?.length) {
      const s = `${prefix}/cond_scalar`;
      const shape = `${prefix}/scalar_shape`;
      g.initializers.set(shape, c.cv.graph.initializers.get(c.int64([], 'scalar'))!);
      g.nodes.push({ name: s, opType: 'Reshape', domain: '', inputs: [v, shape], outputs: [s], attrs: {} });
      v = s;
    }
    g.outputs[0] = { name: v, dtype: 'bool', shape: [] };
  }
  for (const [i, o] of g.outputs.slice(1).entries()) {
    if (o.dtype !== params[i]!.dtype) {
      throw new FormatError(`${c.where()}: body function '${bodyF.name}' gives result ${i} as ${o.dtype}, the loop carries ${params[i]!.dtype}`, { file: c.file });
    }
  }
  const condIn = `${prefix}/cond_in`;
  g.inputs = [{ name: `${prefix}/iteration`, dtype: 'int64', shape: [] }, { name: condIn, dtype: 'bool', shape: [] }, ...g.inputs];
  const names = args.map((_, i) => c.out(i));
  // a counted loop (while i < limit: i += step, all constants): a trip count the writers without
  // control flow can unroll, and a condition that stays as it came in
  const trips = countedTrips(g, body.params, args);
  if (trips !== undefined) {
    const keep = `${prefix}/cond_kept`;
    g.nodes.push({ name: keep, opType: 'Identity', domain: '', inputs: [condIn], outputs: [keep], attrs: {} });
    g.outputs[0] = { name: keep, dtype: 'bool', shape: [] };
    const yes = c.constTensor(new Tensor('bool', [], Uint8Array.of(1)), 'true');
    c.emit('Loop', [c.int64([trips], 'trip_count', true), yes, ...outer], names, { body: { type: 'graph', value: g } });
    return params.map((p, i) => c.value(names[i]!, p.dtype, p.shape));
  }
  c.emit('Loop', ['', condName, ...outer], names, { body: { type: 'graph', value: g } });
  return params.map((p, i) => c.value(names[i]!, p.dtype, p.shape));
}

export const CONTROL_FLOW_OPS: Record<string, OpConvert> = {
  If: ifOp,
  StatelessIf: ifOp,
  While: whileOp,
  StatelessWhile: whileOp,
};

const COMPARE: Record<string, (i: number, limit: number) => boolean> = {
  Less: (i, l) => i < l,
  LessOrEqual: (i, l) => i <= l,
  Greater: (i, l) => i > l,
  GreaterOrEqual: (i, l) => i >= l,
};
const FLIPPED: Record<string, string> = { Less: 'Greater', LessOrEqual: 'GreaterOrEqual', Greater: 'Less', GreaterOrEqual: 'LessOrEqual' };

/** Most iterations a counted loop is recognized for (more is left to the Loop's own condition). */
const MAX_COUNTED = 1_000_000;

/**
 * The iterations of a loop body whose condition is `counter < limit` (or <=, >, >=) where the
 * counter is a carried integer of constant initial value that the body steps by a constant and
 * the limit a constant (of the body, or a carried value the body passes on unchanged).
 */
function countedTrips(g: Graph, params: string[], args: TfValue[]): number | undefined {
  const producers = new Map<string, Graph['nodes'][number]>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producers.set(o, n);
  const through = (v: string): string => {
    for (let hops = 0; hops < 64; hops++) {
      const p = producers.get(v);
      if (!p || p.opType !== 'Identity' || p.domain) return v;
      v = p.inputs[0]!;
    }
    return v;
  };
  const param = (v: string): number => params.indexOf(through(v));
  // the counter the condition reads: as it came in, or as the body gives it on (TF's cond runs on the body's results)
  const counter = (v: string): number => {
    const k = param(v);
    return k >= 0 ? k : g.outputs.slice(1).findIndex((o) => through(o.name) === through(v));
  };
  const constant = (v: string): number | undefined => {
    const w = through(v);
    const t = g.initializers.get(w);
    if (t) return t.size === 1 && (t.dtype === 'int32' || t.dtype === 'int64') ? t.toNumbers()[0] : undefined;
    const k = params.indexOf(w);
    // a carried value the body gives back as it came in, of constant initial value
    if (k >= 0 && param(g.outputs[k + 1]!.name) === k) {
      const t0 = args[k]!.value;
      return t0 && t0.size === 1 && (t0.dtype === 'int32' || t0.dtype === 'int64') ? t0.toNumbers()[0] : undefined;
    }
    return undefined;
  };
  // TF2's maximum_iterations (and any cond of several counters): LogicalAnd of counted comparisons,
  // which stops at the first of them to fail
  const tripsOf = (cond: string, depth: number): number | undefined => {
    const cmp = producers.get(through(cond));
    if (cmp && !cmp.domain && cmp.opType === 'And' && depth < 8) {
      const a = tripsOf(cmp.inputs[0]!, depth + 1);
      const b = a === undefined ? undefined : tripsOf(cmp.inputs[1]!, depth + 1);
      return a === undefined || b === undefined ? undefined : Math.min(a, b);
    }
    if (!cmp || cmp.domain || !COMPARE[cmp.opType]) return undefined;
    let op = cmp.opType;
    let k = counter(cmp.inputs[0]!);
    let limit = constant(cmp.inputs[1]!);
    if (k < 0 || limit === undefined) {
      k = counter(cmp.inputs[1]!);
      limit = constant(cmp.inputs[0]!);
      op = FLIPPED[op]!;
    }
    if (k < 0 || limit === undefined) return undefined;
    const i0 = args[k]!.value;
    if (!i0 || i0.size !== 1 || (i0.dtype !== 'int32' && i0.dtype !== 'int64')) return undefined;
    const step = producers.get(through(g.outputs[k + 1]!.name));
    if (!step || step.domain || (step.opType !== 'Add' && step.opType !== 'Sub')) return undefined;
    let by: number | undefined;
    if (param(step.inputs[0]!) === k) by = constant(step.inputs[1]!);
    else if (step.opType === 'Add' && param(step.inputs[1]!) === k) by = constant(step.inputs[0]!);
    if (by === undefined || by === 0) return undefined;
    if (step.opType === 'Sub') by = -by;
    // count by running the counter: exact for any comparison and sign, bounded
    const test = COMPARE[op]!;
    let i = i0.toNumbers()[0]!;
    let n = 0;
    for (; test(i, limit); n++, i += by) if (n >= MAX_COUNTED) return undefined;
    // a counter TensorFlow would wrap around on its way there: left to the Loop's condition
    const bound = i0.dtype === 'int32' ? 2 ** 31 : 2 ** 53;
    if (i >= bound || i < -bound) return undefined;
    return n;
  };
  return tripsOf(g.outputs[0]!.name, 0);
}

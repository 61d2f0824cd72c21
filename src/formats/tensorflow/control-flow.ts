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
// - TensorLists / TensorArrays a While carries (tensor-lists.ts): a list held dense is a carried
//   tensor; a list reserved before the loop (TensorListReserve, TensorArrayV3) that the body only
//   writes at a counter (a carried integer of constant start stepping by 1: Keras' `time`, a
//   tf.function's `i`) is an ONNX Loop scan output, padded to the reserved length after the loop;
//   a TensorArray's handle is not carried at all (its flow is). Any other use of a reserved list
//   carries it dense, which needs its element shape.
// - Lists an If passes to its branches go in dense (a reserved one as zeros of its element shape);
//   a list a branch gives back is the If's output of its stacked elements, a dense list again.
import type { DType } from '../../ir/dtypes.js';
import { FormatError, GraphError, UnsupportedError } from '../../ir/errors.js';
import type { Dim, Graph, ValueInfo } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { tfDataType, dtypeFromTf } from './data-types.js';
import { expandFunction, libraryMap } from './functions.js';
import type { AttrValue, NodeDef } from './graph-def.js';
import { shapeFromProto } from './tensor-proto.js';
import { DENSE_PARAM, denseValue, HANDLE_PARAM, materializeList, raggedRefusal, SCAN_DOMAIN, SCAN_PARAM, SCAN_WRITE, ScanMiss, type TfList } from './tensor-lists.js';
import { attr, type NodeCtx, type OpConvert, type TfValue } from './to-ir.js';

/** TensorFlow's DataType of TensorList values. */
const DT_VARIANT = 21;

/** Functions running inside functions (an If in a While body in ...): deeper is refused. */
const MAX_DEPTH = 32;

interface Param {
  dtype: DType;
  shape?: Dim[];
  /** a list parameter (kind dense, scan or handle): a synthetic node of tensor-lists.ts, not a Placeholder */
  list?: TfList;
}

/** The node standing for a parameter inside a function's subgraph. */
function paramNode(name: string, p: Param): NodeDef {
  if (!p.list) return { name, op: 'Placeholder', input: [], attr: { dtype: { type: tfDataType(p.dtype) }, shape: { shape: shapeProto(p.shape) } } };
  const op = p.list.kind === 'dense' ? DENSE_PARAM : p.list.kind === 'scan' ? SCAN_PARAM : HANDLE_PARAM;
  return {
    name,
    op,
    input: [],
    attr: { element_dtype: { type: tfDataType(p.list.dtype) }, element_shape: { shape: shapeProto(p.list.declared) }, shape: { shape: shapeProto(p.shape) }, grows: { b: !!p.list.grows } },
  };
}

/** Parameters that are IR inputs of the subgraph (tensors, dense lists). */
const isInput = (p: Param): boolean => !p.list || p.list.kind === 'dense';

type Apply = (fname: string, func: AttrValue['func'], args: string[], tag: string) => { ref: string; type: number }[];

interface Body {
  graph: Graph;
  /** the placeholder standing for each parameter, in order */
  params: string[];
  /** each output's list (a TensorList the function gives back), undefined for tensors */
  lists: (TfList | undefined)[];
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
  const nodes: NodeDef[] = params.map((p, i) => paramNode(paramNames[i]!, p));
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
  const resultLists: (TfList | undefined)[] = [];
  let graph: Graph;
  try {
    graph = c.cv.subgraph(
      { node: nodes, library: options.library },
      { file, outputs: uniq, name: prefix, library: options.library, flow: { chain: [...scope.chain, ...used], budget: scope.budget }, resultLists },
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
  graph.inputs = params.flatMap((p, i) => (isInput(p) ? [{ name: paramNames[i]!, dtype: p.dtype, shape: p.shape }] : []));
  return { graph, params: paramNames, lists: refs.map((r) => resultLists[uniq.indexOf(r)]) };
}

/** A subgraph that reads outer values instead of taking inputs: each placeholder an Identity of its outer value (none for lists not held as tensors). */
function bindOuter(body: Body, outer: (string | undefined)[]): Graph {
  const g = body.graph;
  const binds = body.params.flatMap((p, i) => (outer[i] === undefined ? [] : [{ name: p, opType: 'Identity', domain: '', inputs: [outer[i]!], outputs: [p], attrs: {} }]));
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
  // a list goes into the branches held dense (its stacked elements), a TensorArray's handle as a handle
  for (const a of args) {
    const l = a.list;
    if (l?.kind === 'scan' || l?.kind === 'written') throw new ScanMiss(l.owner!, `${c.op} (${c.name}) passes it to its branches`);
  }
  // list values (variant) in Tin / Tout are the lists passed and given back
  const listOut = (c.attrs.raw('Tout')?.list?.type ?? []).map((t) => t === DT_VARIANT);
  stripVariants(c, 'Tin', args.map((a) => !!a.list), fns);
  const tout = stripVariants(c, 'Tout', listOut, fns);
  const shapes = shapeList(c);
  condShape(c, cond.shape, 'condition');
  const outer = args.map((a) => (a.list?.kind === 'handle' ? undefined : a.list ? materializeList(c, a) : c.use(a)));
  const params: Param[] = args.map((a) => {
    const l = a.list;
    if (!l) return { dtype: a.dtype, shape: a.shape };
    if (l.kind === 'handle') return { dtype: l.dtype, list: { kind: 'handle', dtype: l.dtype } };
    const shape = l.kind === 'dense' ? a.shape : l.declared ? [l.count?.value?.toNumbers()[0] ?? null, ...l.declared] : undefined;
    return { dtype: l.dtype, shape, list: { kind: 'dense', dtype: l.dtype, declared: l.declared, grows: l.grows } };
  });
  const branch = (f: typeof thenF, key: string): Body => {
    const body = convertBody(c, c.cv.fresh(`${c.name}/${key}`), params, (ps, apply) => apply(f.name, f, ps, 'f').map((r) => r.ref));
    if (tout && body.graph.outputs.length !== tout.length) {
      throw new FormatError(`${c.where()}: function '${f.name}' gives ${body.graph.outputs.length} results, Tout lists ${tout.length}`, { file: c.file });
    }
    body.lists.forEach((l, i) => {
      if (!!l !== !!listOut[i] && listOut.length) {
        throw new FormatError(`${c.where()}: function '${f.name}' gives result ${i} as a ${l ? 'TensorList' : 'tensor'}, Tout says ${listOut[i] ? 'a variant (TensorList)' : 'a tensor'}`, { file: c.file });
      }
      if (l && l.kind !== 'dense') throw new UnsupportedError(`${c.op} whose branch gives back a TensorList / TensorArray (${l.kind}) not held as its elements`, `result ${i} of ${where(c)}, function '${f.name}'`);
    });
    return body;
  };
  // a list given back is held dense: its stacked elements are the If's result
  const result = (outs: ValueInfo[], names: string[], lists: (TfList | undefined)[]): TfValue[] =>
    outs.map((o, i) => {
      const l = lists[i];
      if (l) return denseValue(names[i]!, o.dtype, o.shape, l.declared, l.grows);
      return c.value(names[i]!, tout?.[i] ?? o.dtype, shapes?.[i] ?? o.shape);
    });

  if (cond.value) {
    // a constant condition: only the branch taken, in line
    const taken = cond.value.toNumbers().some((v) => v !== 0) ? branch(thenF, 'then_branch') : branch(elseF, 'else_branch');
    const outs = splice(c, bindOuter(taken, outer));
    return result(outs, outs.map((o) => o.name), taken.lists);
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
    if (!!thenB.lists[i] !== !!elseB.lists[i]) {
      throw new FormatError(`${c.where()}: then_branch '${thenF.name}' gives result ${i} as a ${thenB.lists[i] ? 'TensorList' : 'tensor'}, else_branch '${elseF.name}' as a ${elseB.lists[i] ? 'TensorList' : 'tensor'}`, { file: c.file });
    }
    // lists of elements of unlike shapes or counts: only the rank is kept
    return { ...t, shape: same ? t.shape : t.shape && e.shape && t.shape.length === e.shape.length ? t.shape.map((d, k) => (d === e.shape![k] ? d : null)) : undefined };
  });
  return result(te, names, thenB.lists.map((l, i) => l ?? elseB.lists[i]));
}

/** A list attribute's DataTypes (Tin / Tout) as IR dtypes, the list-valued (variant) entries `lists` marks left out (undefined there). */
function stripVariants(c: NodeCtx, key: string, lists: boolean[], fns: string[]): (DType | undefined)[] | undefined {
  const types = c.attrs.raw(key)?.list?.type;
  if (!types) return undefined;
  return types.map((t, i) => {
    if (lists[i]) return undefined;
    const d = dtypeFromTf(t);
    if ('dtype' in d) return d.dtype;
    const what = 'unsupported' in d ? d.unsupported : `DataType ${d.unknown}`;
    throw new UnsupportedError(`${c.op} carrying ${what} values (TensorList, TensorArray, variables)`, `value ${i} of ${where(c)}, functions ${fns.map((f) => `'${f}'`).join(', ')}`);
  });
}

type Mode = 'tensor' | 'dense' | 'scan' | 'handle';

function whileOp(c: NodeCtx): TfValue[] {
  const args = c.inputs;
  const condF = funcAttr(c, 'cond');
  const bodyF = funcAttr(c, 'body');
  const fns = [condF.name, bodyF.name];
  const types = c.attrs.raw('T')?.list?.type;
  if (types && types.length !== args.length) throw new FormatError(`${c.where()} has ${args.length} inputs, its attribute T lists ${types.length}`, { file: c.file });
  // variant / resource values are lists and TensorArray handles; anything else carried of such a type is refused
  types?.forEach((t, i) => {
    const d = dtypeFromTf(t);
    if ('dtype' in d || args[i]?.list) return;
    const what = 'unsupported' in d ? d.unsupported : `DataType ${d.unknown}`;
    throw new UnsupportedError(`${c.op} carrying ${what} values (variables, or lists nnport could not follow)`, `value ${i} of ${where(c)}, functions ${fns.map((f) => `'${f}'`).join(', ')}`);
  });
  const modes: Mode[] = args.map((a) => {
    const l = a.list;
    if (!l) return 'tensor';
    if (l.kind === 'scan' || l.kind === 'written') throw new ScanMiss(l.owner!, `${c.op} (${c.name}) carries it`);
    if (l.kind === 'ragged') throw raggedRefusal(c.op, l, where(c));
    return l.kind === 'handle' ? 'handle' : l.kind === 'dense' ? 'dense' : 'scan';
  });
  const relaxed = args.map(() => 0);
  const why: string[] = [];
  for (let attempt = 0; attempt <= 3 * args.length + 1; attempt++) {
    const owners = new Map<string, number>();
    try {
      const r = loop(c, modes, relaxed, owners, why);
      if (Array.isArray(r)) return r;
      relaxed[r.relax]!++;
    } catch (e) {
      const k = e instanceof ScanMiss ? owners.get(e.owner) : undefined;
      if (k === undefined || !(e instanceof ScanMiss)) throw e;
      // not only written at its counter: carried as a tensor instead
      modes[k] = 'dense';
      why[k] = e.why;
    }
  }
  throw new GraphError(`${c.where()} in '${c.file}': no way found to carry its lists`);
}

/**
 * One conversion of a While with its lists carried as `modes` says; `{ relax }`: again with that
 * dense list's length unknown, or that tensor's dimensions (then its rank) unknown.
 */
function loop(c: NodeCtx, modes: Mode[], relaxed: number[], owners: Map<string, number>, why: string[]): TfValue[] | { relax: number } {
  const args = c.inputs;
  const condF = funcAttr(c, 'cond');
  const bodyF = funcAttr(c, 'body');
  const shapes = shapeList(c);
  // the lists carried dense start as tensors: a reserved one as zeros of its element shape
  const outer: (string | undefined)[] = args.map((a, i) => {
    if (modes[i] === 'tensor') return c.use(a);
    if (modes[i] !== 'dense') return undefined;
    try {
      return materializeList(c, a);
    } catch (e) {
      if (!(e instanceof UnsupportedError) || !why[i]) throw e;
      throw new UnsupportedError(
        `${c.op} carrying a TensorList / TensorArray of unknown element shape that its body does more with than write it at its counter`,
        `value ${i} of ${where(c)}: ${why[i]}`,
      );
    }
  });
  // TensorFlow's shape invariants (output_shapes) hold for every iteration; without them the initial shapes
  const params: Param[] = args.map((a, i) => {
    const l = a.list;
    if (modes[i] === 'tensor' || !l) {
      const shape = shapes?.[i] ?? a.shape;
      return { dtype: a.dtype, shape: relaxed[i] ? (relaxed[i] === 1 ? shape?.map(() => null) : undefined) : shape };
    }
    if (modes[i] === 'handle') return { dtype: l.dtype, list: { kind: 'handle', dtype: l.dtype } };
    if (modes[i] === 'scan') return { dtype: l.dtype, list: { kind: 'scan', dtype: l.dtype, declared: l.declared } };
    const shape = l.kind === 'dense' ? a.shape : l.declared ? [l.count?.value?.toNumbers()[0] ?? null, ...l.declared] : undefined;
    return { dtype: l.dtype, shape: relaxed[i] && shape ? [null, ...shape.slice(1)] : shape, list: { kind: 'dense', dtype: l.dtype, declared: l.declared, grows: l.grows } };
  });
  const noteOwners = (ps: string[]) => ps.forEach((p, i) => modes[i] === 'scan' && owners.set(p, i));

  // the body: body function, then cond on its results (handles are not carried: their flows are)
  const prefix = c.cv.fresh(`${c.name}/body`);
  const body = convertBody(c, prefix, params, (ps, apply) => {
    noteOwners(ps);
    const rets = apply(bodyF.name, bodyF, ps, 'body');
    if (rets.length !== args.length) {
      throw new FormatError(`${c.where()}: body function '${bodyF.name}' gives ${rets.length} results for ${args.length} loop-carried values`, { file: c.file });
    }
    const next = apply(condF.name, condF, rets.map((r) => r.ref), 'cond');
    if (next.length !== 1) throw new FormatError(`${c.where()}: cond function '${condF.name}' gives ${next.length} results, not 1`, { file: c.file });
    return [next[0]!.ref, ...rets.filter((_, i) => modes[i] !== 'handle').map((r) => r.ref)];
  });
  const g = body.graph;
  const kept = args.map((_, i) => i).filter((i) => modes[i] !== 'handle');
  const slot = (i: number) => g.outputs[1 + kept.indexOf(i)]!;
  const carried = kept.filter((i) => modes[i] !== 'scan');
  const scans = kept.filter((i) => modes[i] === 'scan');

  // each list written at a counter: the write gives the loop's scan output
  const { producers, through } = producersOf(g);
  const starts = new Map<number, number>();
  const writes = g.nodes.filter((n) => n.domain === SCAN_DOMAIN);
  for (const i of scans) {
    const owner = body.params[i]!;
    const w = producers.get(through(slot(i).name));
    if (!w || w.domain !== SCAN_DOMAIN || w.opType !== SCAN_WRITE || w.attrs.owner?.value !== owner) throw new ScanMiss(owner, 'the body does not give it back written once');
    const start = counterStart(g, body.params, carried, args, through, producers, w.inputs[0]!, (k) => slot(k).name);
    if (start === undefined) throw new ScanMiss(owner, 'the body writes it at an index that is not a counter (a carried integer of constant start stepping by 1)');
    starts.set(i, start);
  }
  for (const w of writes) {
    const k = body.params.indexOf(String(w.attrs.owner?.value));
    if (!scans.includes(k) || producers.get(through(slot(k).name)) !== w) throw new ScanMiss(String(w.attrs.owner?.value), 'the body writes it elsewhere than in what it gives back');
    // the write is its element: the scan output
    Object.assign(w, { opType: 'Identity', domain: '', inputs: [w.inputs[1]!], attrs: {} });
  }
  // a dense list whose length the body changes (PushBack / PopBack): converted again of unknown length
  for (const i of carried) {
    const p = params[i]!;
    if (p.list && !relaxed[i] && typeof p.shape?.[0] === 'number' && slot(i).shape?.[0] !== p.shape[0]) return { relax: i };
  }
  // a carried tensor whose shape the body changes (a TF1 loop has no output_shapes; a shape
  // invariant may leave dimensions free): converted again with its dimensions, then its rank, unknown
  for (const i of carried) {
    const p = params[i]!;
    const o = slot(i).shape;
    if (p.list || !p.shape || !o) continue;
    if (o.length === p.shape.length && o.every((d, k) => d === p.shape![k] || p.shape![k] === null)) continue;
    if (relaxed[i]! < 2) return { relax: i };
  }

  // the first condition: cond on the initial values, in line
  const first = convertBody(c, c.cv.fresh(`${c.name}/cond_init`), params, (ps, apply) => {
    noteOwners(ps);
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
  for (const i of kept) {
    const o = slot(i);
    if (o.dtype !== params[i]!.dtype) {
      throw new FormatError(`${c.where()}: body function '${bodyF.name}' gives result ${i} as ${o.dtype}, the loop carries ${params[i]!.dtype}`, { file: c.file });
    }
  }
  // ONNX Loop's order: the carried values, then the scan outputs
  g.outputs = [g.outputs[0]!, ...carried.map(slot), ...scans.map(slot)];
  const condIn = `${prefix}/cond_in`;
  g.inputs = [{ name: `${prefix}/iteration`, dtype: 'int64', shape: [] }, { name: condIn, dtype: 'bool', shape: [] }, ...g.inputs];
  const names = carried.map((i) => c.out(i));
  const scanNames = scans.map((i) => c.tmp(`scan${i}`));
  const loopInputs = carried.map((i) => outer[i]!);
  // a counted loop (while i < limit: i += step, all constants): a trip count the writers without
  // control flow can unroll, and a condition that stays as it came in
  const trips = countedTrips(g, carried.map((i) => body.params[i]!), carried.map((i) => args[i]!));
  if (trips !== undefined) {
    const keep = `${prefix}/cond_kept`;
    g.nodes.push({ name: keep, opType: 'Identity', domain: '', inputs: [condIn], outputs: [keep], attrs: {} });
    g.outputs[0] = { name: keep, dtype: 'bool', shape: [] };
    const yes = c.constTensor(new Tensor('bool', [], Uint8Array.of(1)), 'true');
    c.emit('Loop', [c.int64([trips], 'trip_count', true), yes, ...loopInputs], [...names, ...scanNames], { body: { type: 'graph', value: g } });
  } else {
    c.emit('Loop', ['', condName, ...loopInputs], [...names, ...scanNames], { body: { type: 'graph', value: g } });
  }
  return args.map((a, i) => {
    const p = params[i]!;
    if (modes[i] === 'handle') return a;
    if (modes[i] === 'tensor') return c.value(c.out(i), p.dtype, p.shape);
    if (modes[i] === 'dense') return denseValue(c.out(i), p.dtype, p.shape, p.list!.declared, p.list!.grows);
    return scanList(c, a, scanNames[scans.indexOf(i)]!, slot(i).shape, starts.get(i)!, trips, i);
  });
}

/**
 * The list a loop wrote at its counter from `start` on: the scan output of its elements, padded
 * with zeros (unset elements) to the length reserved.
 */
function scanList(c: NodeCtx, a: TfValue, scan: string, item: Dim[] | undefined, start: number, trips: number | undefined, i: number): TfValue {
  const l = a.list!;
  const n = l.count?.value?.size === 1 ? l.count.value.toNumbers()[0] : undefined;
  const rank = item?.length ?? l.declared?.length;
  const element = item ?? l.declared;
  if (trips !== undefined && n !== undefined) {
    const back = Math.max(0, n - start - trips);
    const shape = element ? [start + trips + back, ...element] : undefined;
    if (start === 0 && back === 0) return denseValue(scan, l.dtype, shape, l.declared);
    if (rank === undefined) throw new UnsupportedError(`${c.op} writing a list of unknown rank from element ${start} of ${n}`, `value ${i} of ${where(c)}`);
    const out = c.tmp(`list${i}`);
    const zeros = Array<number>(rank).fill(0);
    c.emit('Pad', [scan, c.int64([start, ...zeros, back, ...zeros], 'pads')], [out]);
    return denseValue(out, l.dtype, shape, l.declared);
  }
  if (rank === undefined) throw new UnsupportedError(`${c.op} writing a list of unknown rank for a computed number of iterations`, `value ${i} of ${where(c)}`);
  // back padding: max(0, reserved - start - written), computed
  const shape = c.tmp('scan_shape');
  c.emit('Shape', [scan], [shape]);
  const len = c.tmp('written');
  c.emit('Slice', [shape, c.int64([0], 'start'), c.int64([1], 'end'), c.int64([0], 'axes')], [len]);
  const reserved = c.tmp('reserved');
  c.emit('Reshape', [c.int64InputOf(l.count!, 'count64'), c.int64([1], 'shape1')], [reserved]);
  const left = c.tmp('left');
  c.emit('Sub', [reserved, len], [left]);
  const minusStart = c.tmp('left_after_start');
  c.emit('Sub', [left, c.int64([start], 'start_at')], [minusStart]);
  const back = c.tmp('back');
  c.emit('Max', [minusStart, c.int64([0], 'zero')], [back]);
  const zeros = c.int64(Array<number>(rank).fill(0), 'zeros');
  const pads = c.tmp('pads');
  c.emit('Concat', [c.int64([start], 'front'), zeros, back, zeros], [pads], { axis: attr('int', 0) });
  const out = c.tmp(`list${i}`);
  c.emit('Pad', [scan, pads], [out]);
  return denseValue(out, l.dtype, element ? [null, ...element] : undefined, l.declared);
}

/**
 * The constant start of the counter `index` reads: a carried integer the body steps by +1 (through
 * Identity), of constant initial value; undefined for any other index.
 */
function counterStart(
  g: Graph,
  params: string[],
  carried: number[],
  args: TfValue[],
  through: (v: string) => string,
  producers: Map<string, Graph['nodes'][number]>,
  index: string,
  result: (k: number) => string,
): number | undefined {
  const k = params.indexOf(through(index));
  if (k < 0 || !carried.includes(k)) return undefined;
  const t0 = args[k]!.value;
  if (!t0 || t0.size !== 1 || (t0.dtype !== 'int32' && t0.dtype !== 'int64')) return undefined;
  const step = producers.get(through(result(k)));
  if (!step || step.domain || step.opType !== 'Add') return undefined;
  const one = (v: string) => {
    const t = g.initializers.get(through(v));
    return !!t && t.size === 1 && t.toNumbers()[0] === 1;
  };
  const [x, y] = step.inputs;
  if (!((through(x!) === params[k] && one(y!)) || (through(y!) === params[k] && one(x!)))) return undefined;
  return t0.toNumbers()[0];
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

/** Each value's producing node in a graph, and `through`: a value traced back past Identity nodes to its source. */
function producersOf(g: Graph): { producers: Map<string, Graph['nodes'][number]>; through: (v: string) => string } {
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
  return { producers, through };
}

/** Most iterations a counted loop is recognized for (more is left to the Loop's own condition). */
const MAX_COUNTED = 1_000_000;

/**
 * The iterations of a loop body whose condition is `counter < limit` (or <=, >, >=) where the
 * counter is a carried integer of constant initial value that the body steps by a constant and
 * the limit a constant (of the body, or a carried value the body passes on unchanged).
 */
function countedTrips(g: Graph, params: string[], args: TfValue[]): number | undefined {
  const { producers, through } = producersOf(g);
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

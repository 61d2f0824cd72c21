// Inlining a GraphDef's function library: every StatefulPartitionedCall / PartitionedCall (and
// node whose op is a library function) that the outputs need is replaced by the function's body,
// renamed under the call node's name, recursively, so the rest of the reader sees one flat graph.
// This is how a TensorFlow 2 SavedModel's `serving_default` signature is read: its graph holds
// only placeholders, variable handles and one call of a traced function.
import { FormatError, GraphError, UnsupportedError } from '../../ir/errors.js';
import type { tensorflow } from '../generated/tensorflow.js';
import { int64ToNumber, type Int64 } from './int64.js';
import { parseInput, type AttrValue, type GraphDef, type NodeDef } from './graph-def.js';

type FunctionDef = tensorflow.FunctionDef.$Properties;
type OpDef = tensorflow.OpDef.$Properties;

export const CALL_OPS = new Set(['StatefulPartitionedCall', 'PartitionedCall']);

/** Inlined nodes in all (a bound on what a hostile library can make us build). */
const MAX_INLINED_NODES = 5_000_000;

/**
 * Output argument names of ops with more than one output argument, for graphs whose MetaGraph
 * carries no stripped_op_list ("node:out_arg:i" is resolved through the op's OpDef).
 */
export const OUTPUT_ARGS: Record<string, string[]> = {
  FusedBatchNorm: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2'],
  FusedBatchNormV2: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2'],
  FusedBatchNormV3: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2', 'reserve_space_3'],
  TopKV2: ['values', 'indices'],
  Unique: ['y', 'idx'],
  QuantizeV2: ['output', 'output_min', 'output_max'],
  QuantizedConv2D: ['output', 'min_output', 'max_output'],
  Requantize: ['output', 'output_min', 'output_max'],
  RequantizationRange: ['output_min', 'output_max'],
  TensorListPopBack: ['output_handle', 'tensor'],
  TensorListConcat: ['tensor', 'lengths'],
  TensorListConcatV2: ['tensor', 'lengths'],
  TensorArrayV3: ['handle', 'flow'],
  TensorArrayConcatV3: ['value', 'lengths'],
  NonMaxSuppressionV4: ['selected_indices', 'valid_outputs'],
  NonMaxSuppressionV5: ['selected_indices', 'selected_scores', 'valid_outputs'],
  MaxPoolWithArgmax: ['output', 'argmax'],
};

export interface InlineOptions {
  file: string;
  /** the nodes whose inputs are followed (signature outputs); calls elsewhere stay as they are */
  roots: string[];
  /** OpDefs of the ops used (MetaInfoDef.stripped_op_list), for multi-output argument offsets */
  ops?: readonly OpDef[];
}

export interface InlinedGraph {
  graphDef: GraphDef;
  /** for each outer call node that was inlined: the function it called */
  calls: Map<string, string>;
}

/** True when some node the roots need calls a function of the library. */
export function needsInlining(gd: GraphDef): boolean {
  const lib = new Set((gd.library?.function ?? []).map((f) => f.signature?.name ?? ''));
  return (gd.node ?? []).some((n) => CALL_OPS.has(n.op ?? '') || lib.has(n.op ?? ''));
}

export function inlineFunctions(gd: GraphDef, options: InlineOptions): InlinedGraph {
  const file = options.file;
  const library = new Map<string, FunctionDef>();
  for (const f of gd.library?.function ?? []) {
    const name = f.signature?.name ?? '';
    if (!name) throw new FormatError('the function library has a function without a name', { file });
    library.set(name, f);
  }
  const opDefs = new Map<string, OpDef>();
  for (const o of options.ops ?? []) if (o.name) opDefs.set(o.name, o);
  const nodes = gd.node ?? [];
  const byName = new Map(nodes.map((n) => [n.name ?? '', n]));

  // the outer nodes the roots need through data edges
  const needed = new Set<string>();
  const stack = options.roots.map((r) => parseInput(r).node);
  while (stack.length) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    needed.add(name);
    for (const i of byName.get(name)?.input ?? []) {
      const r = parseInput(i);
      if (!r.control) stack.push(r.node);
    }
  }

  const out: NodeDef[] = [];
  const calls = new Map<string, string>();
  const ctx: InlineCtx = { file, library, opDefs, out, count: 0 };
  for (const n of nodes) {
    const callee = needed.has(n.name ?? '') ? calledFunction(n, library, file) : undefined;
    if (!callee) {
      out.push(n);
      continue;
    }
    calls.set(n.name ?? '', callee);
    const dataInputs = (n.input ?? []).filter((i) => !i.startsWith('^'));
    const rets = inlineCall(ctx, n, callee, dataInputs, n.name ?? '', []);
    // the call node becomes an IdentityN of the function's results, so "call:i" still names output i
    out.push(resultsNode(n.name ?? '', rets));
  }
  const graphDef: GraphDef = { ...gd, node: out };
  return { graphDef, calls };
}

/** A function's body as flat nodes: what expandFunction gives. */
export interface ExpandedFunction {
  nodes: NodeDef[];
  /** the references of its results in the flat nodes, in output_arg order, with their DataType */
  rets: { ref: string; type: number }[];
}

const libraries = new WeakMap<object, Map<string, FunctionDef>>();

/** The library's functions by name (cached per library object). */
export function libraryMap(library: GraphDef['library'], file: string): Map<string, FunctionDef> {
  if (!library) return new Map();
  let m = libraries.get(library);
  if (m) return m;
  m = new Map();
  for (const f of library.function ?? []) {
    const name = f.signature?.name ?? '';
    if (!name) throw new FormatError('the function library has a function without a name', { file });
    m.set(name, f);
  }
  libraries.set(library, m);
  return m;
}

/**
 * The body of library function `fname` as flat nodes named under `prefix/`, its arguments bound
 * to `args` (references among the caller's nodes) and the calls inside it inlined, for the
 * functional control-flow ops (If / While) that run a function as a subgraph. `chain` is the
 * functions being expanded around this one (a function that reaches itself is a GraphError);
 * `budget` counts the nodes made across all of them.
 */
export function expandFunction(
  library: Map<string, FunctionDef>,
  call: NodeDef,
  fname: string,
  args: string[],
  prefix: string,
  file: string,
  chain: string[],
  budget: { nodes: number },
  func?: AttrValue['func'],
): ExpandedFunction {
  const ctx: InlineCtx = { file, library, opDefs: new Map(), out: [], count: budget.nodes };
  const rets = inlineCall(ctx, { ...call, attr: { f: { func: func ?? { name: fname } } } }, fname, args, prefix, chain);
  budget.nodes = ctx.count;
  return { nodes: ctx.out, rets };
}

interface InlineCtx {
  file: string;
  library: Map<string, FunctionDef>;
  opDefs: Map<string, OpDef>;
  out: NodeDef[];
  count: number;
}

/** The library function a node calls: f of a call op, or the node's op itself. */
function calledFunction(n: NodeDef, library: Map<string, FunctionDef>, file: string): string | undefined {
  const op = n.op ?? '';
  if (CALL_OPS.has(op)) {
    const f = n.attr?.f?.func?.name;
    if (!f) throw new FormatError(`node '${n.name ?? ''}' (${op}) names no function`, { file });
    return f;
  }
  return library.has(op) ? op : undefined;
}

/**
 * Emit the body of `fname` under `prefix/`, its arguments bound to `args` (outer references);
 * returns the outer references of its results, in output_arg order.
 */
function inlineCall(ctx: InlineCtx, call: NodeDef, fname: string, args: string[], prefix: string, chain: string[]): { ref: string; type: number }[] {
  const { file } = ctx;
  const where = `node '${call.name ?? ''}' (${call.op ?? ''})`;
  if (chain.includes(fname)) {
    throw new GraphError(`'${file}': the function library calls itself: ${[...chain, fname].join(' -> ')}`);
  }
  const f = ctx.library.get(fname);
  if (!f) throw new FormatError(`${where} calls function '${fname}', which the graph's library does not define`, { file });
  const sig = f.signature ?? {};
  const inArgs = sig.input_arg ?? [];
  for (const a of [...inArgs, ...(sig.output_arg ?? [])]) {
    if (a.number_attr || a.type_list_attr) throw new UnsupportedError('functions with list-valued arguments', `argument '${a.name ?? ''}' of '${fname}' in '${file}'`);
  }
  if (args.length !== inArgs.length) {
    throw new FormatError(`${where} passes ${args.length} inputs to '${fname}', which takes ${inArgs.length}`, { file });
  }
  const bindings = call.attr?.f?.func?.attr ?? {};
  const argRef = new Map(inArgs.map((a, i) => [a.name ?? '', args[i]!]));
  const body = f.node_def ?? [];
  const bodyByName = new Map(body.map((n) => [n.name ?? '', n]));
  const local = (n: string) => `${prefix}/${n}`;

  // "arg", "node:out_arg:i" or "^node" inside the body -> a reference in the flat graph
  const resolve = (ref: string, inNode: string): string => {
    if (ref.startsWith('^')) {
      const target = ref.slice(1);
      if (argRef.has(target)) return `^${parseInput(argRef.get(target)!).node}`;
      return `^${local(target)}`;
    }
    const parts = ref.split(':');
    if (parts.length === 1) {
      const a = argRef.get(ref);
      if (a !== undefined) return a;
      if (bodyByName.has(ref)) return local(ref);
      throw new FormatError(`node '${inNode}' of function '${fname}' reads '${ref}', which is neither an argument nor a node`, { file });
    }
    const idx = Number(parts[parts.length - 1]);
    const node = parts.slice(0, parts.length === 3 ? 1 : -1).join(':');
    const outArg = parts.length === 3 ? parts[1]! : undefined;
    const target = bodyByName.get(node);
    if (!target || !Number.isInteger(idx)) {
      throw new FormatError(`node '${inNode}' of function '${fname}' reads '${ref}', which is not an output of its body`, { file });
    }
    const flat = outArg === undefined ? idx : outputOffset(ctx, target, outArg, fname) + idx;
    return flat === 0 ? local(node) : `${local(node)}:${flat}`;
  };

  for (const n of body) {
    if (++ctx.count > MAX_INLINED_NODES) throw new GraphError(`'${file}': inlining the function library makes more than ${MAX_INLINED_NODES} nodes`);
    const name = n.name ?? '';
    const inputs = (n.input ?? []).map((i) => resolve(i, name));
    const attr = bindAttrs(n.attr ?? {}, bindings, `node '${name}' of function '${fname}'`, file);
    const callee = calledFunction(n, ctx.library, file);
    if (callee) {
      const rets = inlineCall(ctx, n, callee, inputs.filter((i) => !i.startsWith('^')), local(name), [...chain, fname]);
      ctx.out.push(resultsNode(local(name), rets));
      continue;
    }
    ctx.out.push({ ...n, name: local(name), input: inputs, attr, device: '' });
  }

  return (sig.output_arg ?? []).map((a) => {
    const ret = f.ret?.[a.name ?? ''];
    if (ret === undefined) throw new FormatError(`function '${fname}' does not say which tensor its output '${a.name ?? ''}' is`, { file });
    return { ref: resolve(ret, `ret ${a.name ?? ''}`), type: a.type ?? 0 };
  });
}

/** The node standing for an inlined call: Identity of its one result, IdentityN of several. */
function resultsNode(name: string, rets: { ref: string; type: number }[]): NodeDef {
  if (rets.length === 1) return { name, op: 'Identity', input: [rets[0]!.ref], attr: { T: { type: rets[0]!.type } } };
  return { name, op: 'IdentityN', input: rets.map((r) => r.ref), attr: { T: { list: { type: rets.map((r) => r.type) } } } };
}

/** Where output argument `arg` of a body node starts among its flat outputs. */
function outputOffset(ctx: InlineCtx, n: NodeDef, arg: string, fname: string): number {
  const op = n.op ?? '';
  // a call's only output argument is the list 'output'; a called function's are its output args
  if (CALL_OPS.has(op)) return 0;
  const fn = ctx.library.get(op);
  if (fn) {
    const i = (fn.signature?.output_arg ?? []).findIndex((a) => a.name === arg);
    if (i < 0) throw new FormatError(`function '${fname}' reads output '${arg}' of '${n.name ?? ''}', which '${op}' does not have`, { file: ctx.file });
    return i;
  }
  const def = ctx.opDefs.get(op);
  if (def) {
    let offset = 0;
    for (const a of def.output_arg ?? []) {
      if (a.name === arg) return offset;
      offset += argSize(n, a);
    }
    throw new FormatError(`function '${fname}' reads output '${arg}' of '${n.name ?? ''}', which op ${op} does not have`, { file: ctx.file });
  }
  const names = OUTPUT_ARGS[op];
  if (names) {
    const i = names.indexOf(arg);
    if (i >= 0) return i;
  }
  // ops with a single output argument (almost all): the index alone says which output
  return 0;
}

function argSize(n: NodeDef, a: tensorflow.OpDef.ArgDef.$Properties): number {
  if (a.number_attr) {
    const v = n.attr?.[a.number_attr]?.i;
    return v === undefined || v === null ? 1 : int64ToNumber(v as Int64);
  }
  if (a.type_list_attr) return n.attr?.[a.type_list_attr]?.list?.type?.length ?? 0;
  return 1;
}

/** Attribute placeholders ("$T") of a body node bound from the call's function attributes. */
function bindAttrs(attr: Record<string, AttrValue>, bindings: Record<string, AttrValue>, where: string, file: string): Record<string, AttrValue> {
  let out: Record<string, AttrValue> | undefined;
  for (const [k, v] of Object.entries(attr)) {
    if (!v.placeholder) continue;
    const b = bindings[v.placeholder];
    if (!b) throw new FormatError(`${where}: attribute '${k}' is the unbound placeholder $${v.placeholder}`, { file });
    out ??= { ...attr };
    out[k] = b;
  }
  return out ?? attr;
}

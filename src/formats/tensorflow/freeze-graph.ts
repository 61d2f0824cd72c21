// Freezing a TensorFlow graph: variables become Const nodes holding the checkpoint's values,
// the graph is pruned to what the outputs need through data edges (which drops savers,
// gradients, optimizers, summaries, initializers and Assign), control inputs and device
// placements are cleared, and placeholders can be fixed to constants (dropout's keep_prob).
import { FormatError, GraphError, UnsupportedError, UsageError } from '../../ir/errors.js';
import type { Tensor } from '../../ir/tensor.js';
import { tensorflow } from '../generated/tensorflow.js';
import { tfDataType } from './data-types.js';
import { parseInput, type GraphDef, type NodeDef } from './graph-def.js';
import { shapeToProto, tensorToTfProto } from './tensor-proto.js';
import { candidateOutputs } from './to-ir.js';

export const VARIABLE_OPS = new Set(['Variable', 'VariableV2', 'VarHandleOp']);

export interface FreezeOptions {
  file: string;
  /** output nodes ("name" or "name:0"); required (the error lists candidates) */
  outputs: string[];
  /** checkpoint value of a variable node (by node name; VarHandleOp also by shared_name) */
  variable: (name: string) => Promise<Tensor | undefined>;
  /** tensors fed from outside (signature inputs): their nodes become Placeholders */
  feeds?: { name: string; dtype: number; shape?: (number | null)[] }[];
  /** placeholders replaced by scalar constants */
  set?: Record<string, number>;
}

/** The candidate outputs of a graph, as an error message when none were given. */
export function outputsRequired(nodes: readonly NodeDef[], file: string): never {
  const c = candidateOutputs(nodes);
  throw new UsageError(
    `'${file}': which outputs? give --outputs NAME[,NAME] (${c.length ? `candidates, consumed by no other node: ${c.slice(0, 20).join(', ')}${c.length > 20 ? ', ...' : ''}` : 'no candidate found'})`,
  );
}

/** A frozen GraphDef holding only what `outputs` need, variables replaced by constants. */
export async function freezeGraphDef(gd: GraphDef, options: FreezeOptions): Promise<GraphDef> {
  const file = options.file;
  const nodes = gd.node ?? [];
  if (!options.outputs.length) outputsRequired(nodes, file);
  const byName = new Map<string, NodeDef>();
  for (const n of nodes) byName.set(n.name ?? '', n);
  const feeds = new Map((options.feeds ?? []).map((f) => [parseInput(f.name).node, f]));
  for (const o of options.outputs) if (!byName.has(parseInput(o).node)) throw new UsageError(`output '${o}' is not a node of '${file}'`);
  for (const k of Object.keys(options.set ?? {})) if (!byName.has(k)) throw new UsageError(`--set names '${k}', which is not a node of '${file}'`);

  // what the outputs need through data edges (fed and fixed nodes are cut off there)
  const keep = new Set<string>();
  const stack = options.outputs.map((o) => parseInput(o).node);
  let steps = 0;
  while (stack.length) {
    const name = stack.pop()!;
    if (keep.has(name)) continue;
    keep.add(name);
    if (++steps > 10_000_000) throw new GraphError(`'${file}': graph too large to freeze`);
    if (feeds.has(name) || (options.set && name in options.set)) continue;
    const n = byName.get(name);
    if (!n) throw new FormatError(`a node reads '${name}', which is not a node of the graph`, { file });
    if (VARIABLE_OPS.has(n.op ?? '')) continue;
    for (const i of n.input ?? []) {
      const r = parseInput(i);
      if (!r.control) stack.push(r.node);
    }
  }

  const out: NodeDef[] = [];
  const missing: string[] = [];
  for (const n of nodes) {
    const name = n.name ?? '';
    if (!keep.has(name)) continue;
    const feed = feeds.get(name);
    const set = options.set?.[name];
    if (feed) {
      const attr: Record<string, tensorflow.AttrValue.$Properties> = { dtype: { type: feed.dtype } };
      if (feed.shape) attr.shape = { shape: shapeToProto(feed.shape) };
      out.push({ name, op: 'Placeholder', attr });
    } else if (set !== undefined) {
      const dtype = n.attr?.dtype?.type ?? tfDataType('float32');
      const value: tensorflow.TensorProto.$Properties = { dtype, tensor_shape: {} };
      if (dtype === 1) value.float_val = [set];
      else if (dtype === 2) value.double_val = [set];
      else if (dtype === 3) value.int_val = [set];
      else if (dtype === 9) value.int64_val = [set];
      else if (dtype === 10) value.bool_val = [set !== 0];
      else throw new UnsupportedError(`--set on a placeholder of dtype ${dtype}`, `node '${name}' in '${file}'`);
      out.push({ name, op: 'Const', attr: { dtype: { type: dtype }, value: { tensor: value } } });
    } else if (VARIABLE_OPS.has(n.op ?? '')) {
      const shared = n.attr?.shared_name?.s ? new TextDecoder().decode(n.attr.shared_name.s) : '';
      const t = (await options.variable(name)) ?? (shared ? await options.variable(shared) : undefined);
      if (!t) {
        missing.push(name);
        continue;
      }
      const value = tensorToTfProto(t);
      out.push({ name, op: 'Const', attr: { dtype: { type: value.dtype }, value: { tensor: value } } });
    } else if (n.op === 'ReadVariableOp') {
      out.push({ name, op: 'Identity', input: [dataInputs(n)[0]!], attr: { T: { type: n.attr?.dtype?.type ?? 1 } } });
    } else {
      out.push({ name, op: n.op, input: dataInputs(n), attr: n.attr ?? {} });
    }
  }
  if (missing.length) {
    throw new FormatError(`the checkpoint has no value for variable${missing.length > 1 ? 's' : ''} ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}`, { file });
  }
  const frozen: GraphDef = { node: out };
  if (gd.versions) frozen.versions = gd.versions;
  if (gd.library?.function?.length && out.some((n) => gd.library!.function!.some((f) => f.signature?.name === n.op))) frozen.library = gd.library;
  return frozen;
}

function dataInputs(n: NodeDef): string[] {
  return (n.input ?? []).filter((i) => !i.startsWith('^'));
}

export function encodeGraphDef(gd: GraphDef): Uint8Array {
  return tensorflow.GraphDef.encode(gd).finish();
}

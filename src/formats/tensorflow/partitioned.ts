// Partitioned variables (tf.compat.v1.get_variable(..., partitioner=...), big embedding tables,
// wide-and-deep models): the graph holds parts `w/part_0`, `w/part_1`, ... (VariableV2 or
// VarHandleOp), each one slice of ONE checkpoint tensor `w` that the saver wrote in slices
// (bundle.ts and checkpoint-v1.ts reassemble it). Where a part lies is said by its VariableDef's
// save_slice_info_def in the `variables` collections, else by the saver's restore ops:
// RestoreV2's shape_and_slices (V2) or RestoreSlice's shape_and_slice (V1) feeding the part's
// Assign / AssignVariableOp. A part's value is then its slice of the full tensor.
import { DTYPES } from '../../ir/dtypes.js';
import { FormatError } from '../../ir/errors.js';
import { shapeSize, stridesOf, Tensor } from '../../ir/tensor.js';
import { tensorflow } from '../generated/tensorflow.js';
import { guardProtobufDecode } from '../protobuf-peek.js';
import type { Checkpoint } from './checkpoint.js';
import { decodeProto, NodeAttrs, parseInput, type GraphDef, type NodeDef } from './graph-def.js';
import { int64ToNumber, type Int64 } from './int64.js';
import type { MetaGraphDef } from './meta-graph.js';
import { staticShape } from './tensor-proto.js';
import { VARIABLE_DEF } from './wire-schema.js';

export interface Extent {
  start: number;
  size: number;
}

/** Where a variable node's value lies in the checkpoint: a tensor's name, and the part's slice of it. */
export interface VariableSource {
  /** the checkpoint tensor's name */
  key: string;
  /** a part of a partitioned variable: the full tensor's shape and this part's extents */
  slice?: { fullShape: number[]; extents: Extent[] };
  /** what said so, for messages */
  from: string;
}

/** The collections whose entries are VariableDefs (tf.GraphKeys). */
const VARIABLE_COLLECTIONS = ['variables', 'trainable_variables', 'local_variables', 'model_variables', 'moving_average_variables'];

const RESTORE_OPS = new Set(['RestoreV2', 'RestoreSlice']);
const ASSIGN_OPS = new Set(['Assign', 'AssignVariableOp']);

/**
 * The checkpoint source of each variable node the MetaGraph says more about than its name: parts
 * of partitioned variables (by their save_slice_info_def, else by the restore ops), and variables
 * the saver restores under another name.
 */
export function variableSources(meta: MetaGraphDef, gd: GraphDef, file: string): Map<string, VariableSource> {
  const out = new Map<string, VariableSource>();
  for (const key of VARIABLE_COLLECTIONS) {
    for (const bytes of meta.collection_def?.[key]?.bytes_list?.value ?? []) {
      guardProtobufDecode(bytes, VARIABLE_DEF, file, `VariableDef of collection '${key}'`);
      const def = decodeProto(() => tensorflow.VariableDef.decode(bytes), file, `VariableDef of collection '${key}'`);
      const info = def.save_slice_info_def;
      const node = parseInput(def.variable_name ?? '').node;
      if (!node || !info?.full_name || out.has(node)) continue;
      const from = `the save_slice_info_def of variable '${node}' (collection '${key}')`;
      const ints = (v: (number | Int64)[] | null | undefined) => (v ?? []).map((x) => int64ToNumber(x as Int64));
      const [fullShape, offset, shape] = [ints(info.full_shape), ints(info.var_offset), ints(info.var_shape)];
      if (offset.length !== fullShape.length || shape.length !== fullShape.length) {
        throw new FormatError(`${from}: full_shape [${fullShape.join(', ')}], var_offset [${offset.join(', ')}] and var_shape [${shape.join(', ')}] differ in rank`, { file });
      }
      out.set(node, { key: info.full_name, slice: checkedSlice(fullShape, offset.map((start, i) => ({ start, size: shape[i]! })), from, file), from });
    }
  }
  for (const [node, source] of restoredVariables(gd, file)) if (!out.has(node)) out.set(node, source);
  return out;
}

/** Variables fed by a restore op (RestoreV2:k or RestoreSlice, through Identity) through an Assign / AssignVariableOp. */
function restoredVariables(gd: GraphDef, file: string): Map<string, VariableSource> {
  const out = new Map<string, VariableSource>();
  const nodes = gd.node ?? [];
  if (!nodes.some((n) => RESTORE_OPS.has(n.op ?? ''))) return out;
  const byName = new Map<string, NodeDef>();
  for (const n of nodes) byName.set(n.name ?? '', n);
  const data = (n: NodeDef) => (n.input ?? []).filter((i) => !i.startsWith('^'));
  const strings = (ref: string | undefined, what: string): string[] => {
    const n = ref === undefined ? undefined : byName.get(parseInput(ref).node);
    if (n?.op !== 'Const') throw new FormatError(`restore op's ${what} is not a constant ('${ref ?? ''}')`, { file });
    const t = new NodeAttrs(n, file).tensor('value');
    if (t.dtype !== 'string') throw new FormatError(`restore op's ${what} '${n.name ?? ''}' holds ${t.dtype}, not strings`, { file });
    return t.data as string[];
  };
  for (const a of nodes) {
    if (!ASSIGN_OPS.has(a.op ?? '')) continue;
    const [ref, value] = data(a);
    const variable = ref === undefined ? undefined : byName.get(parseInput(ref).node);
    if (!variable || !/^(Variable|VariableV2|VarHandleOp)$/.test(variable.op ?? '') || value === undefined) continue;
    // the restored value reaches the Assign through Identity ops (a saver's save/Identity_k)
    let r = parseInput(value);
    let src = byName.get(r.node);
    for (let hops = 0; src?.op === 'Identity' && hops < 16; hops++) {
      r = parseInput(data(src)[0] ?? '');
      src = byName.get(r.node);
    }
    if (!src || !RESTORE_OPS.has(src.op ?? '')) continue;
    const where = `restore op '${src.name ?? ''}'`;
    let key: string | undefined;
    let spec: string | undefined;
    if (src.op === 'RestoreV2') {
      const names = strings(data(src)[1], 'tensor_names');
      const specs = strings(data(src)[2], 'shape_and_slices');
      key = names[r.index];
      spec = specs[r.index];
    } else {
      key = strings(data(src)[1], 'tensor_name')[0];
      spec = strings(data(src)[2], 'shape_and_slice')[0];
    }
    if (key === undefined || spec === undefined) throw new FormatError(`${where} has no tensor name or shape_and_slice for its output ${r.index}`, { file });
    const name = variable.name ?? '';
    const from = `${where} (output ${r.index}, assigned to '${name}')`;
    out.set(name, spec ? { key, slice: parseShapeAndSlice(spec, from, file), from } : { key, from });
  }
  return out;
}

/** A saver's shape_and_slice string: "d0 d1 ... s0:s1:...", each slice `start,length` or `-` (the whole dimension). */
export function parseShapeAndSlice(spec: string, where: string, file: string): { fullShape: number[]; extents: Extent[] } {
  const parts = spec.trim().split(' ');
  const slices = parts.pop()!.split(':');
  const num = (s: string) => {
    if (!/^\d+$/.test(s)) throw new FormatError(`${where}: shape_and_slice '${spec}' has '${s}' where a number belongs`, { file });
    return Number(s);
  };
  const fullShape = parts.map(num);
  if (slices.length !== fullShape.length) throw new FormatError(`${where}: shape_and_slice '${spec}' slices ${slices.length} dimensions of a rank-${fullShape.length} tensor`, { file });
  const extents = slices.map((s, i) => {
    if (s === '-') return { start: 0, size: fullShape[i]! };
    const se = s.split(',');
    if (se.length !== 2) throw new FormatError(`${where}: shape_and_slice '${spec}' has slice '${s}' (want start,length or -)`, { file });
    return { start: num(se[0]!), size: num(se[1]!) };
  });
  return checkedSlice(fullShape, extents, where, file);
}

function checkedSlice(fullShape: number[], extents: Extent[], where: string, file: string): { fullShape: number[]; extents: Extent[] } {
  extents.forEach((e, i) => {
    if (!(e.start >= 0 && e.size >= 0 && e.start + e.size <= fullShape[i]!)) {
      throw new FormatError(`${where}: the part [${extents.map((x) => `${x.start}:+${x.size}`).join(', ')}] lies outside the full shape [${fullShape.join(', ')}]`, { file });
    }
  });
  return { fullShape, extents };
}

/** A part's value: its slice of the checkpoint's full tensor, which must have the shape the slice info says. */
export async function partValue(ckpt: Checkpoint, node: string, source: VariableSource, full: (key: string) => Promise<Tensor>, file: string): Promise<Tensor> {
  const { fullShape, extents } = source.slice!;
  const entry = ckpt.bundle.entries.get(source.key);
  if (!entry) throw new FormatError(`the checkpoint has no tensor '${source.key}', of which variable '${node}' is a part (${source.from})`, { file });
  const shape = staticShape(entry.shape, `checkpoint tensor '${source.key}'`, file);
  if (shape.join() !== fullShape.join()) {
    throw new FormatError(`variable '${node}' is a part of '${source.key}' [${fullShape.join(', ')}] (${source.from}), but the checkpoint's '${source.key}' is [${shape.join(', ')}]`, { file });
  }
  return sliceOf(await full(source.key), extents);
}

/** The extents' slice of a tensor, copied row by row (innermost dimension contiguous). */
export function sliceOf(t: Tensor, extents: Extent[]): Tensor {
  const shape = extents.map((e) => e.size);
  const rank = shape.length;
  if (rank === 0) return t;
  const fullStrides = stridesOf(t.shape as number[]);
  const outer = shape.slice(0, -1);
  const rows = shapeSize(outer);
  const rowLen = shape[rank - 1]!;
  const oStrides = stridesOf(outer);
  const rowStart = (r: number) => {
    let at = extents[rank - 1]!.start;
    for (let d = 0; d < rank - 1; d++) at += (extents[d]!.start + (Math.floor(r / oStrides[d]!) % outer[d]!)) * fullStrides[d]!;
    return at;
  };
  if (t.dtype === 'string') {
    const src = t.data as string[];
    const out: string[] = [];
    for (let r = 0; r < rows && rowLen; r++) out.push(...src.slice(rowStart(r), rowStart(r) + rowLen));
    return new Tensor('string', shape, out);
  }
  const out = Tensor.zeros(t.dtype, shape);
  const esize = DTYPES[t.dtype].bytes;
  const src = t.bytes();
  const dst = out.bytes();
  for (let r = 0; r < rows && rowLen; r++) {
    const at = rowStart(r) * esize;
    dst.set(src.subarray(at, at + rowLen * esize), r * rowLen * esize);
  }
  return out;
}

// Serving graphs that take serialized tf.Example protos: a string Placeholder read only by
// ParseExample ops (TF Serving's classify / regress signatures; ParseExampleV2, TF2's
// tf.io.parse_example, its dense keys one string vector). The IR has no protobuf parser,
// so such an input is cut at the parsed dense features, which become the model's inputs: a
// feature's values, [batch, ...dense_shape] of its dtype. A feature read by a single Identity
// (tf.identity(x, name='x'), the usual form) is fed there, under the Identity's name; otherwise
// a new Placeholder named by the feature key takes the ParseExample output's place. Sparse
// and ragged features are not cut: a graph that still needs them keeps the ParseExample, which is
// refused naming them.
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import type { tensorflow } from '../generated/tensorflow.js';
import { NodeAttrs, parseInput, type GraphDef, type NodeDef } from './graph-def.js';
import { shapeFromProto } from './tensor-proto.js';
import type { NodeCtx, OpConvert, TfValue } from './to-ir.js';

const STRING = 7;
const utf8 = new TextDecoder('utf-8');
const PARSE_OPS = new Set(['ParseExample', 'ParseExampleV2']);

export interface FeedTensor {
  name: string;
  dtype: number;
  shape?: (number | null)[];
}

/**
 * The graph with every serialized-Example input among `inputs` cut at its ParseExample's dense
 * outputs, and the inputs with each such input replaced by those features (others unchanged).
 */
export function cutExampleInputs(gd: GraphDef, inputs: FeedTensor[], file: string): { graphDef: GraphDef; inputs: FeedTensor[] } {
  let graphDef = gd;
  const out: FeedTensor[] = [];
  for (const input of inputs) {
    const cut = cutOne(graphDef, input, file);
    if (!cut) out.push(input);
    else {
      graphDef = cut.graphDef;
      out.push(...cut.features);
    }
  }
  return { graphDef, inputs: out };
}

/** The graph's serialized-Example inputs: string Placeholders read only by ParseExample ops (none when it has no ParseExample). */
export function exampleInputs(gd: GraphDef): FeedTensor[] {
  const nodes = gd.node ?? [];
  if (!nodes.some((n) => PARSE_OPS.has(n.op ?? ''))) return [];
  const readers = new Map<string, NodeDef[]>();
  for (const n of nodes) {
    for (const i of dataInputs(n)) {
      const r = parseInput(i).node;
      const list = readers.get(r);
      // (appended in place: a copy per reader is quadratic in a node's readers)
      if (list) list.push(n);
      else readers.set(r, [n]);
    }
  }
  return nodes
    .filter((n) => (n.op === 'Placeholder' || n.op === 'PlaceholderWithDefault') && n.attr?.dtype?.type === STRING)
    .filter((n) => (readers.get(n.name ?? '') ?? []).length > 0 && readers.get(n.name ?? '')!.every((r) => PARSE_OPS.has(r.op ?? '')))
    .map((n) => ({ name: `${n.name}:0`, dtype: STRING }));
}

function cutOne(gd: GraphDef, input: FeedTensor, file: string): { graphDef: GraphDef; features: FeedTensor[] } | undefined {
  const ref = parseInput(input.name);
  const nodes = gd.node ?? [];
  const source = nodes.find((n) => n.name === ref.node);
  if (!source || ref.index !== 0 || (source.op !== 'Placeholder' && source.op !== 'PlaceholderWithDefault') || source.attr?.dtype?.type !== STRING) return undefined;
  const readers = nodes.filter((n) => dataInputs(n).some((i) => parseInput(i).node === ref.node));
  if (!readers.length || !readers.every((n) => PARSE_OPS.has(n.op ?? '') && parseInput(dataInputs(n)[0] ?? '').node === ref.node)) return undefined;
  const declared = source.attr?.shape?.shape;
  // ParseExampleV2 also takes one scalar Example (declared shape [], not absent or of unknown
  // rank): its features then have no batch dimension
  const scalar = !!declared && !declared.unknown_rank && !(declared.dim ?? []).length && readers.every((n) => n.op === 'ParseExampleV2');
  const lead: (number | null)[] = scalar ? [] : [shapeFromProto(declared)?.[0] ?? null];

  const byName = new Map(nodes.map((n) => [n.name ?? '', n]));
  const taken = new Set(byName.keys());
  // rewrites: node name -> replacement node; input references to rewire
  const replace = new Map<string, NodeDef>();
  const rewire = new Map<string, string>();
  const features: FeedTensor[] = [];
  for (const parse of readers) {
    const at = new NodeAttrs(parse, file);
    const v2 = parse.op === 'ParseExampleV2';
    const nSparse = at.int(v2 ? 'num_sparse' : 'Nsparse', 0);
    const types = parse.attr?.Tdense?.list?.type ?? [];
    const nDense = v2 ? types.length : at.int('Ndense', 0);
    const shapes = parse.attr?.dense_shapes?.list?.shape ?? [];
    const data = dataInputs(parse);
    if (types.length !== nDense || shapes.length !== nDense || data.length !== (v2 ? 5 + nDense : 2 + nSparse + 2 * nDense)) {
      throw new FormatError(`${parse.op} '${parse.name}': ${nDense} dense features but ${types.length} types, ${shapes.length} shapes and ${data.length} inputs`, { file });
    }
    // V2: the dense keys are one string vector (input 3); V1: a scalar string input per feature
    const denseKeys = v2 ? constStrings(byName.get(parseInput(data[3]!).node)) : undefined;
    if (denseKeys && denseKeys.length !== nDense) throw new FormatError(`${parse.op} '${parse.name}': ${nDense} dense features but ${denseKeys.length} dense keys`, { file });
    for (let i = 0; i < nDense; i++) {
      const key = (denseKeys ? denseKeys[i] : constString(byName.get(parseInput(data[2 + nSparse + i]!).node))) || `dense_${i}`;
      const index = 3 * nSparse + i;
      const output = index === 0 ? parse.name! : `${parse.name}:${index}`;
      const dtype = types[i]!;
      const shape = [...lead, ...(shapeFromProto(shapes[i] as tensorflow.TensorShapeProto.$Properties) ?? [])];
      const consumers = nodes.filter((n) => (n.input ?? []).some((x) => sameTensor(x, output)));
      const only = consumers.length === 1 ? consumers[0]! : undefined;
      let name: string;
      if (only?.op === 'Identity') name = only.name!;
      else {
        name = taken.has(key) ? `${parse.name}/${key}` : key;
        for (let k = 1; taken.has(name); k++) name = `${parse.name}/${key}_${k}`;
        taken.add(name);
        rewire.set(output, name);
      }
      replace.set(name, placeholder(name, dtype, shape));
      features.push({ name: `${name}:0`, dtype, shape });
    }
  }
  const node: NodeDef[] = nodes.map((n) => {
    const r = replace.get(n.name ?? '');
    if (r) return r;
    if (!(n.input ?? []).some((x) => rewire.has(canonical(x)))) return n;
    return { ...n, input: (n.input ?? []).map((x) => rewire.get(canonical(x)) ?? x) };
  });
  for (const [name, p] of replace) if (!byName.has(name)) node.push(p);
  return { graphDef: { ...gd, node }, features };
}

function placeholder(name: string, dtype: number, shape: (number | null)[]): NodeDef {
  return { name, op: 'Placeholder', attr: { dtype: { type: dtype }, shape: { shape: { dim: shape.map((d) => ({ size: d ?? -1 })) } } } };
}

/** A Const node's string values (a ParseExampleV2's keys). */
function constStrings(n: NodeDef | undefined): string[] | undefined {
  const s = n?.op === 'Const' ? n.attr?.value?.tensor?.string_val : undefined;
  return s ? s.map((b) => utf8.decode(b)) : undefined;
}

/**
 * A ParseExample the cut left in the graph (its sparse or ragged features are read, or its input
 * is not a string Placeholder): refused, naming its features.
 */
function parseExampleRefusal(c: NodeCtx): TfValue[] {
  const strings = (v: TfValue | undefined) => (v?.value?.dtype === 'string' ? (v.value.data as string[]) : []);
  const v2 = c.op === 'ParseExampleV2';
  const nSparse = c.attrs.int(v2 ? 'num_sparse' : 'Nsparse', 0);
  const sparse = v2 ? strings(c.inputs[2]) : c.inputs.slice(2, 2 + nSparse).flatMap(strings);
  const ragged = v2 ? strings(c.inputs[4]) : [];
  const keys = [...sparse.map((k) => `sparse '${k}'`), ...ragged.map((k) => `ragged '${k}'`)];
  throw new UnsupportedError(
    keys.length ? `${c.op} of sparse / ragged features` : `${c.op} of a tf.Example that is not a string Placeholder`,
    `${c.where()} in '${c.file}'${keys.length ? `: ${keys.join(', ')}` : ''} (nnport cuts a serialized tf.Example input at its dense features, which become inputs)`,
  );
}

export const PARSE_EXAMPLE_OPS: Record<string, OpConvert> = {
  ParseExample: parseExampleRefusal,
  ParseExampleV2: parseExampleRefusal,
};

/** A Const node's scalar string value. */
function constString(n: NodeDef | undefined): string | undefined {
  const s = n?.op === 'Const' ? n.attr?.value?.tensor?.string_val?.[0] : undefined;
  return s ? utf8.decode(s) : undefined;
}

function dataInputs(n: NodeDef): string[] {
  return (n.input ?? []).filter((i) => !i.startsWith('^'));
}

/** 'node' and 'node:0' name the same tensor. */
function canonical(ref: string): string {
  return ref.endsWith(':0') ? ref.slice(0, -2) : ref;
}

function sameTensor(ref: string, output: string): boolean {
  return !ref.startsWith('^') && canonical(ref) === output;
}

/** A signature tensor's dtype and shape as the graph gives them (the node's dtype or T, its _output_shapes). */
export function graphTensorInfo(gd: GraphDef, tensor: string): FeedTensor {
  const ref = parseInput(tensor);
  const n = (gd.node ?? []).find((x) => x.name === ref.node);
  const dtype = n?.attr?.dtype?.type ?? n?.attr?.T?.type ?? 0;
  const shape = n?.attr?._output_shapes?.list?.shape?.[ref.index];
  return { name: tensor, dtype, shape: shape ? shapeFromProto(shape as tensorflow.TensorShapeProto.$Properties) : undefined };
}

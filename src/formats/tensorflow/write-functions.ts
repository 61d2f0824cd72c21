// Run-time control flow in a GraphDef: an ONNX If whose condition is data becomes StatelessIf, a
// Loop whose trip count or condition is known only at run time StatelessWhile, their branches /
// cond / body FunctionDefs of the GraphDef's library written through the same op rows as the main
// graph (write.ts' Writer.writeFunction). ONNX bodies read the values around them by name; a
// function reads only its arguments, so every value a body reads from outside (but constants,
// copied into it) becomes an explicit input of the If / loop variable of the While.
// - If(cond) -> StatelessIf(cond, outer...): both branches take the same outer values.
// - Loop(M, cond, v...) -> StatelessWhile(i = 0, M, cond, v..., acc..., outer...): cond function
//   `i < M && cond` (`cond` alone without a trip count), body function the ONNX body with
//   i + 1 and M, the outer values passed on; each scan output a loop variable growing by ConcatV2
//   from an empty tensor. An element shape known only at run time (a Slice to a run-time length,
//   a symbolic dim of the input) starts as onnxruntime's output of a loop that never runs, (0, ...)
//   of the known dims and 0 for the others, and each step re-shapes the items so far to
//   (i, item's shape) before appending (not TF's TensorList: TF.js 4.9 disposes a tensor pushed
//   inside a function once the function returns, unless it is the function's input or output).
// Inside a function a node's output is named `node:out_arg:index` (FunctionDef's naming): the
// out_arg is the op's OpDef output argument (FUNCTION_OUTPUT_ARGS, else 'output').
import { UnsupportedError } from '../../ir/errors.js';
import { outerReads, type Dim, type Graph, type Node, type ValueInfo } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import type { tensorflow } from '../generated/tensorflow.js';
import { tfDataType } from './data-types.js';
import { OUTPUT_ARGS } from './functions.js';
import type { NodeDef } from './graph-def.js';
import { shapeToProto } from './tensor-proto.js';
import { T, tfName, type GraphDefWriter, type Row } from './write-context.js';

type FunctionDef = tensorflow.FunctionDef.$Properties;

export const CONTROL_FLOW_WRITTEN = new Set(['If', 'Loop']);

const isControlFlowNode = (n: Node): boolean => (n.domain === '' || n.domain === 'ai.onnx') && CONTROL_FLOW_WRITTEN.has(n.opType);

/**
 * The graph with the weights its If / Loop bodies read from around them copied into those bodies
 * (before the main graph's passes fold, re-lay or drop them as unread there).
 */
export function constantsIntoBodies(g: Graph): Graph {
  if (!g.nodes.some(isControlFlowNode)) return g;
  const nodes = g.nodes.map((n) => {
    if (!isControlFlowNode(n)) return n;
    const attrs = { ...n.attrs };
    for (const [k, a] of Object.entries(n.attrs)) {
      if (a.type !== 'graph') continue;
      const initializers = new Map(a.value.initializers);
      for (const v of outerReads(a.value)) {
        const c = g.initializers.get(v);
        if (c) initializers.set(v, c);
      }
      attrs[k] = { type: 'graph', value: { ...a.value, initializers } };
    }
    return { ...n, attrs };
  });
  return { ...g, nodes };
}

/**
 * The graph with each If / Loop body prepared as the main graph is (`prepare`: layout, folding,
 * the writer's own rewrites), recursively: constants the body reads from outside are copied into
 * it; the other values it reads from outside stay outside (inputs while it is prepared).
 */
export async function prepareBodies(g: Graph, prepare: (body: Graph) => Promise<Graph>, target: string): Promise<Graph> {
  if (!g.nodes.some(isControlFlowNode)) return g;
  const types = inferShapes(g, { onError: 'unknown' }).values;
  const typeOf = (v: string): ValueInfo => {
    const i = g.inputs.find((x) => x.name === v);
    if (i) return i;
    const t = types.get(v);
    return { name: v, dtype: t?.dtype ?? 'float32', ...(t?.shape ? { shape: [...t.shape] } : {}) };
  };
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (!isControlFlowNode(n)) {
      nodes.push(n);
      continue;
    }
    const attrs = { ...n.attrs };
    for (const [k, a] of Object.entries(n.attrs)) {
      if (a.type !== 'graph') continue;
      const body = a.value;
      const reads = [...outerReads(body)].filter(Boolean);
      const initializers = new Map(body.initializers);
      const extra: ValueInfo[] = [];
      for (const v of reads) {
        const c = g.initializers.get(v);
        if (c) initializers.set(v, c);
        else extra.push(typeOf(v));
      }
      const standalone: Graph = { ...body, inputs: [...body.inputs, ...extra], initializers, valueInfo: undefined };
      const prepared = await prepare(standalone);
      const outer = new Set(extra.map((v) => v.name));
      attrs[k] = { type: 'graph', value: { ...prepared, inputs: prepared.inputs.filter((v) => !outer.has(v.name)) } };
    }
    if (Object.values(n.attrs).some((a) => a.type === 'graphs')) throw new UnsupportedError(`${n.opType} with a list of subgraphs in ${target}`, `node '${n.name}'`);
    nodes.push({ ...n, attrs });
  }
  return { ...g, nodes };
}

/**
 * Output argument names of the ops the rows write, as their OpDefs name them (for the
 * `node:out_arg:index` references inside a function); an op not listed has one argument 'output'.
 */
const SINGLE_OUTPUT_ARG: Record<string, string> = {
  ...Object.fromEntries(['Relu', 'Relu6', 'Elu', 'Selu', 'Softplus', 'Softsign', 'LeakyRelu'].map((op) => [op, 'activations'])),
  ...Object.fromEntries(
    ['Add', 'AddV2', 'Sub', 'Mul', 'Div', 'RealDiv', 'DivNoNan', 'FloorDiv', 'FloorMod', 'Mod', 'Maximum', 'Minimum', 'Pow', 'SquaredDifference', 'Atan2',
      'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'Equal', 'NotEqual', 'LogicalAnd', 'LogicalOr', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor',
      'LeftShift', 'RightShift', 'TruncateDiv', 'TruncateMod'].map((op) => [op, 'z']),
  ),
  ...Object.fromEntries(
    ['Abs', 'Neg', 'Exp', 'Expm1', 'Log', 'Log1p', 'Sqrt', 'Rsqrt', 'Square', 'Reciprocal', 'Sign', 'Floor', 'Ceil', 'Round', 'Rint', 'Erf', 'Erfc',
      'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Tanh', 'Asinh', 'Acosh', 'Atanh', 'Sigmoid', 'IsNan', 'IsInf', 'IsFinite',
      'LogicalNot', 'Cast', 'Transpose', 'Invert'].map((op) => [op, 'y']),
  ),
  MatMul: 'product',
  ResizeBilinear: 'resized_images',
  ResizeNearestNeighbor: 'resized_images',
  Softmax: 'softmax',
  LogSoftmax: 'logsoftmax',
  Cumsum: 'out',
  Cumprod: 'out',
  Where: 'index',
  OnesLike: 'y',
  ZerosLike: 'y',
};

function outputArgRef(op: string, index: number): string {
  const multi = OUTPUT_ARGS[op];
  if (multi?.[index]) return `${multi[index]}:0`;
  return `${SINGLE_OUTPUT_ARG[op] ?? 'output'}:${index}`;
}

/** FunctionDef argument names: OpDef's [a-z][a-z0-9_]*. */
const argBase = (s: string): string => {
  const r = s.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return /^[a-z]/.test(r) ? r : `f${r}`;
};

/** What Writer.writeFunction needs of the writer around it: names unique across the whole GraphDef. */
export interface FunctionScope {
  /** every node, function and argument name taken so far in the GraphDef and its library */
  names: Set<string>;
  /** the library being written, in order (a function before those that run it) */
  library: Array<{ def: FunctionDef; nodes: NodeDef[]; graph: Graph }>;
}

export function freshIn(names: Set<string>, base: string): string {
  let name = base;
  for (let k = 1; names.has(name); k++) name = `${base}_${k}`;
  names.add(name);
  return name;
}

/**
 * The FunctionDef of `body` from the nodes written for it in GraphDef form (graph inputs are its
 * arguments, not Placeholders): node names made unique across the GraphDef under the function's
 * name, references in FunctionDef form, and each result through an Identity of its own (`ret`).
 */
export function asFunctionDef(scope: FunctionScope, fname: string, body: Graph, nodes: NodeDef[], ref: (v: string) => string, dtype: (v: string) => Tensor['dtype']): { def: FunctionDef; nodes: NodeDef[] } {
  const args = body.inputs.map((v) => ({ ir: v.name, local: tfName(v.name), name: freshIn(scope.names, `${argBase(fname)}_${argBase(v.name)}`), dtype: v.dtype }));
  const argOf = new Map(args.map((a) => [a.local, a.name]));
  const renamed = new Map<string, { name: string; op: string }>();
  for (const n of nodes) renamed.set(n.name ?? '', { name: freshIn(scope.names, `${fname}/${n.name ?? ''}`), op: n.op ?? '' });
  const convert = (r: string): string => {
    const control = r.startsWith('^');
    const s = control ? r.slice(1) : r;
    const m = /^(.*):(\d+)$/.exec(s);
    const node = m ? m[1]! : s;
    const index = m ? Number(m[2]) : 0;
    const arg = argOf.get(node);
    if (arg !== undefined) return control ? `^${arg}` : arg;
    const target = renamed.get(node);
    if (!target) throw new UnsupportedError(`a reference to '${r}' that function '${fname}' does not define`);
    return control ? `^${target.name}` : `${target.name}:${outputArgRef(target.op, index)}`;
  };
  const out: NodeDef[] = nodes.map((n) => ({ ...n, name: renamed.get(n.name ?? '')!.name, input: (n.input ?? []).map(convert) }));
  const ret: Record<string, string> = {};
  const outputArg = body.outputs.map((o, i) => {
    const name = `out${i}`;
    const t = dtype(o.name);
    const id = freshIn(scope.names, `${fname}/ret${i}`);
    out.push({ name: id, op: 'Identity', input: [convert(ref(o.name))], attr: { T: T(t) } });
    ret[name] = `${id}:output:0`;
    return { name, type: tfDataType(t) };
  });
  const def: FunctionDef = {
    signature: { name: fname, input_arg: args.map((a) => ({ name: a.name, type: tfDataType(a.dtype) })), output_arg: outputArg },
    node_def: out,
    ret,
  };
  return { def, nodes: out };
}

const typeList = (w: GraphDefWriter, values: string[]) => ({ list: { type: values.map((v) => tfDataType(w.dtype(v))) } });
const shapeList = (shapes: (readonly Dim[] | null | undefined)[]) => ({ list: { shape: shapes.map((s) => shapeToProto(s ?? undefined)) } });

function graphAttr(n: Node, key: string): Graph {
  const a = n.attrs[key];
  if (a?.type !== 'graph') throw new UnsupportedError(`${n.opType} without a '${key}' graph`, `node '${n.name}'`);
  return a.value;
}

/** The values a body reads from around it, but constants (prepareBodies copied those in). */
function outerValues(w: GraphDefWriter, ...bodies: Graph[]): string[] {
  const reads = new Set<string>();
  for (const b of bodies) for (const v of outerReads(b)) if (v && !b.initializers.has(v)) reads.add(v);
  return [...reads].sort();
}

const outerInfo = (w: GraphDefWriter, v: string): ValueInfo => {
  const shape = w.shape(v);
  return { name: v, dtype: w.dtype(v), ...(shape ? { shape: [...shape] } : {}) };
};

const ifRow: Row = (w, n, out) => {
  const thenG = graphAttr(n, 'then_branch');
  const elseG = graphAttr(n, 'else_branch');
  const outer = outerValues(w, thenG, elseG);
  const inputs = outer.map((v) => outerInfo(w, v));
  if (thenG.outputs.length !== n.outputs.length || elseG.outputs.length !== n.outputs.length) {
    throw new UnsupportedError(`If whose branches give ${thenG.outputs.length} / ${elseG.outputs.length} results for ${n.outputs.length} outputs`, `node '${n.name}'`);
  }
  const thenF = w.writeFunction(`${n.name}_then`, { ...thenG, inputs });
  const elseF = w.writeFunction(`${n.name}_else`, { ...elseG, inputs });
  const cond = n.inputs[0]!;
  w.add(out, 'StatelessIf', [w.ref(cond), ...outer.map((v) => w.ref(v))], {
    Tcond: T(w.dtype(cond)),
    Tin: typeList(w, outer),
    Tout: typeList(w, n.outputs),
    then_branch: { func: { name: thenF } },
    else_branch: { func: { name: elseF } },
    output_shapes: shapeList(n.outputs.map((o) => w.shape(o))),
  });
  n.outputs.forEach((o, i) => i > 0 && o && w.refs.set(o, `${out}:${i}`));
};

/** A value name not used in `g` (nor its subgraphs' outer reads), from `base`. */
function unusedName(g: Graph, taken: Set<string>, base: string): string {
  if (!taken.size) {
    for (const v of g.inputs) taken.add(v.name);
    for (const k of g.initializers.keys()) taken.add(k);
    for (const x of g.nodes) for (const o of x.outputs) taken.add(o);
    for (const v of outerReads(g)) taken.add(v);
  }
  return freshIn(taken, base);
}

const INT32_MAX = 2 ** 31 - 1;

/**
 * Ops whose output shape follows from their inputs' shapes and attributes alone (not from an
 * operand's values): a value of the loop that changes per iteration changes nothing of it there.
 */
const SHAPE_FROM_SHAPES = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not',
  'Max', 'Min', 'Sum', 'Mean', 'Where', 'PRelu', 'Neg', 'Abs', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign',
  'Erf', 'Sin', 'Cos', 'Tanh', 'Sigmoid', 'Relu', 'LeakyRelu', 'Elu', 'Selu', 'Softplus', 'Softsign', 'HardSigmoid', 'ThresholdedRelu', 'Clip',
  'Identity', 'Cast', 'Softmax', 'LogSoftmax', 'MatMul', 'Gemm', 'Transpose', 'Shape', 'Size', 'Concat', 'Flatten',
  // (by their indices' shape, not values: a Scan made a Loop Gathers each step's slice at the iteration number)
  'Gather', 'GatherElements', 'GatherND', 'ScatterElements', 'ScatterND',
]);

/**
 * The body's values whose shape may differ from one iteration to the next: the carried values
 * `growing` (whose shape the body changes), and those computed from one of them, or from the
 * iteration number, the condition or any carried value by an op whose output shape depends on an
 * operand's values (Range(0, i), a Slice to i).
 */
function shapesVaryingPerIteration(body: Graph, growing: ReadonlySet<string>): Set<string> {
  const [, , ...carried] = body.inputs;
  const valueVarying = new Set([body.inputs[0]?.name, body.inputs[1]?.name, ...carried.map((v) => v.name)].filter((v): v is string => !!v));
  const shapeVarying = new Set(growing);
  for (const n of body.nodes) {
    const fromValues = n.inputs.some((i) => valueVarying.has(i)) || Object.values(n.attrs).some((a) => a.type === 'graph' && [...outerReads(a.value)].some((v) => valueVarying.has(v)));
    if (fromValues) for (const o of n.outputs) valueVarying.add(o);
    const isOnnx = n.domain === '' || n.domain === 'ai.onnx';
    // (a Split by sizes that do not vary -- a recurrent step's gates, src/passes/recurrent-to-loop.ts -- splits by its input's shape)
    const byShapes = SHAPE_FROM_SHAPES.has(n.opType) || (n.opType === 'Split' && !valueVarying.has(n.inputs[1] ?? ''));
    if (n.inputs.some((i) => shapeVarying.has(i)) || (fromValues && !(isOnnx && byShapes))) for (const o of n.outputs) shapeVarying.add(o);
  }
  return shapeVarying;
}

/** A scan output: its body value, element type and shape (dims known only at run time as null or a symbol), and its accumulating loop variable. */
interface Scan {
  value: string;
  dtype: Tensor['dtype'];
  shape: readonly Dim[];
  acc: ValueInfo;
  /** whether some dim of the element shape is known only at run time */
  runTime: boolean;
}

const loopRow: Row = (w, n, out) => {
  const body = graphAttr(n, 'body');
  const [tripIn, condIn, ...initial] = n.inputs;
  const nv = initial.length;
  if (body.inputs.length !== nv + 2) throw new UnsupportedError(`Loop whose body takes ${body.inputs.length} inputs for ${nv} carried values`, `node '${n.name}'`);
  // a trip count past int32 (PyTorch's INT64_MAX of a while loop) bounds nothing: the condition alone
  const tripConst = tripIn ? w.g.initializers.get(tripIn) : undefined;
  const trip = tripIn && !(tripConst && tripConst.size === 1 && tripConst.toNumbers()[0]! >= INT32_MAX) ? tripIn : undefined;
  const outer = outerValues(w, body);
  const taken = new Set<string>();
  const name = (base: string) => unusedName(body, taken, base);
  const [iterV, condV, ...declared] = body.inputs;
  // a carried value the body declares without a type or shape: its initial value's
  const carriedV: ValueInfo[] = declared.map((v, j) => ({ ...v, dtype: v.dtype ?? w.dtype(initial[j]!), shape: v.shape ?? (w.shape(initial[j]!) as Dim[] | null) ?? undefined }));
  const tripV: ValueInfo | undefined = trip ? { name: name(`${n.name}/trip_count`), dtype: w.dtype(trip), shape: [] } : undefined;
  // the scan outputs' element types and shapes, as the body computes them
  const infer = () => inferShapes({ ...body, inputs: [iterV!, condV!, ...carriedV, ...outer.map((v) => outerInfo(w, v))] }, { onError: 'unknown' }).values;
  let inferred = infer();
  // a carried value whose shape the body changes (a torch.cat accumulator) is carried with the dims
  // that change left open (its rank too where that changes), and the shapes are inferred again from
  // those: a scan output whose shape follows one of them is refused below
  const growing = new Set<string>();
  if (body.outputs.length > 1 + nv) {
    carriedV.forEach((v, j) => {
      const after = inferred.get(body.outputs[1 + j]!.name)?.shape;
      if (v.shape && after && after.length === v.shape.length && after.every((d, k) => d === v.shape![k])) return;
      growing.add(v.name);
      carriedV[j] = { ...v, shape: v.shape && after && after.length === v.shape.length ? v.shape.map((d, k) => (d === after[k] ? d : null)) : undefined };
    });
    if (growing.size) inferred = infer();
  }
  let varying: Set<string> | undefined = growing.size ? shapesVaryingPerIteration(body, growing) : undefined;
  const scans = body.outputs.slice(1 + nv).map((s, k): Scan => {
    const t = inferred.get(s.name);
    const shape = t?.shape ?? s.shape;
    const dtype = t?.dtype ?? s.dtype;
    const where = `node '${n.name}', scan output ${k}`;
    if (!shape) throw new UnsupportedError('a Loop scan output of unknown rank in a GraphDef', `${where}: the items so far are re-shaped to each new item's rank`);
    const runTime = shape.some((d) => typeof d !== 'number');
    if (runTime || growing.size) {
      varying ??= shapesVaryingPerIteration(body, growing);
      // (onnxruntime refuses items of different shapes at run time)
      if (varying.has(s.name)) throw new UnsupportedError('a Loop scan output whose element shape may change from one iteration to the next in a GraphDef', `${where}: ONNX stacks items of one shape`);
    }
    return { value: s.name, dtype, shape, runTime, acc: { name: name(`${n.name}/scan${k}`), dtype, shape: [null, ...shape.map((d) => (typeof d === 'number' ? d : null))] } };
  });
  const outerInputs = outer.map((v) => outerInfo(w, v));
  const vars: ValueInfo[] = [iterV!, ...(tripV ? [tripV] : []), condV!, ...carriedV, ...scans.map((s) => s.acc), ...outerInputs];

  const one = name(`${n.name}/one`);
  const iterNext = name(`${n.name}/iteration_next`);
  const added: Node[] = [{ name: iterNext, opType: 'Add', domain: '', inputs: [iterV!.name, one], outputs: [iterNext], attrs: {} }];
  const initializers = new Map(body.initializers);
  initializers.set(one, new Tensor(iterV!.dtype, [], iterV!.dtype === 'int32' ? Int32Array.of(1) : BigInt64Array.of(1n)));
  const node = (base: string, opType: string, inputs: string[], attrs: Node['attrs'] = {}): string => {
    const v = name(base);
    added.push({ name: v, opType, domain: '', inputs, outputs: [v], attrs });
    return v;
  };
  const allowZero: Node['attrs'] = { allowzero: { type: 'int', value: 1 } };
  const accNext = scans.map((s, k) => {
    const base = `${n.name}/scan${k}`;
    if (!s.runTime) {
      const shape = name(`${base}_item_shape`);
      initializers.set(shape, Tensor.int64([s.shape.length + 1], [1, ...(s.shape as number[])]));
      return node(`${base}_next`, 'Concat', [s.acc.name, node(`${base}_item`, 'Reshape', [s.value, shape])], { axis: { type: 'int', value: 0 } });
    }
    // the i items so far as (i, item's shape): a no-op but at the first step, where (0, ...) of 0 for
    // each run-time dim becomes (0, the item's dims); allowzero, as a dim of the item may be 0
    const itemShape = node(`${base}_item_dims`, 'Shape', [s.value]);
    const count = name(`${base}_count_shape`);
    initializers.set(count, Tensor.int64([1], [1]));
    const i64 = iterV!.dtype === 'int64' ? iterV!.name : node(`${base}_count64`, 'Cast', [iterV!.name], { to: { type: 'int', value: 7 } });
    const sofar = node(`${base}_so_far_shape`, 'Concat', [node(`${base}_count`, 'Reshape', [i64, count]), itemShape], { axis: { type: 'int', value: 0 } });
    const unit = name(`${base}_one_item`);
    initializers.set(unit, Tensor.int64([1], [1]));
    const itemAsOne = node(`${base}_item_shape`, 'Concat', [unit, itemShape], { axis: { type: 'int', value: 0 } });
    const before = node(`${base}_so_far`, 'Reshape', [s.acc.name, sofar], allowZero);
    return node(`${base}_next`, 'Concat', [before, node(`${base}_item`, 'Reshape', [s.value, itemAsOne], allowZero)], { axis: { type: 'int', value: 0 } });
  });
  const bodyOutputs: ValueInfo[] = [
    { name: iterNext, dtype: iterV!.dtype, shape: [] },
    ...(tripV ? [tripV] : []),
    body.outputs[0]!,
    ...body.outputs.slice(1, 1 + nv),
    ...scans.map((s, k) => ({ name: accNext[k]!, dtype: s.dtype, shape: s.acc.shape })),
    ...outerInputs,
  ];
  const whileBody: Graph = { ...body, inputs: vars, initializers, nodes: [...body.nodes, ...added], outputs: bodyOutputs, valueInfo: undefined };

  const c = name(`${n.name}/continue`);
  const condNodes: Node[] = [];
  if (tripV) {
    const below = name(`${n.name}/below_trip_count`);
    condNodes.push({ name: below, opType: 'Less', domain: '', inputs: [iterV!.name, tripV.name], outputs: [below], attrs: {} });
    condNodes.push({ name: c, opType: 'And', domain: '', inputs: [below, condV!.name], outputs: [c], attrs: {} });
  } else {
    condNodes.push({ name: c, opType: 'Identity', domain: '', inputs: [condV!.name], outputs: [c], attrs: {} });
  }
  const condGraph: Graph = { ...body, inputs: vars, initializers: new Map(), nodes: condNodes, outputs: [{ name: c, dtype: 'bool', shape: [] }], valueInfo: undefined };

  const bodyF = w.writeFunction(`${n.name}_body`, whileBody);
  const condF = w.writeFunction(`${n.name}_cond`, condGraph);
  const start = w.const(`${n.name}/iteration0`, iterV!.dtype === 'int32' ? new Tensor('int32', [], Int32Array.of(0)) : Tensor.int64([], [0]));
  const cond0 = condIn ? w.ref(condIn) : w.const(`${n.name}/cond0`, new Tensor('bool', [], Uint8Array.of(1)));
  // (a run-time dim starts at 0: onnxruntime's output of a loop that never runs)
  const acc0 = scans.map((s, k) => w.const(`${n.name}/scan${k}_empty`, Tensor.zeros(s.dtype, [0, ...s.shape.map((d) => (typeof d === 'number' ? d : 0))])));
  const inputs = [start, ...(trip ? [w.ref(trip)] : []), cond0, ...initial.map((v) => w.ref(v!)), ...acc0, ...outer.map((v) => w.ref(v))];
  const types = [iterV!.dtype, ...(tripV ? [tripV.dtype] : []), 'bool' as const, ...initial.map((v) => w.dtype(v!)), ...scans.map((s) => s.dtype), ...outer.map((v) => w.dtype(v))];
  const shapes: (readonly Dim[] | null | undefined)[] = [[], ...(tripV ? [[]] : []), [], ...carriedV.map((v) => v.shape), ...scans.map((s) => s.acc.shape), ...outer.map((v) => w.shape(v))];
  const loop = w.add(w.fresh(`${out}/while`), 'StatelessWhile', inputs, {
    T: { list: { type: types.map((t) => tfDataType(t)) } },
    cond: { func: { name: condF } },
    body: { func: { name: bodyF } },
    output_shapes: shapeList(shapes),
    parallel_iterations: { i: 10 },
  });
  const first = 2 + (tripV ? 1 : 0);
  n.outputs.forEach((o, i) => o && w.refs.set(o, `${loop}:${first + i}`));
};

export const controlFlowRows: Record<string, Row> = { If: ifRow, Loop: loopRow };

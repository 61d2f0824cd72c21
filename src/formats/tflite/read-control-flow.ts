// TFLite control flow: the ops that run other subgraphs of the file, read with subgraph 0's op
// readers (read.ts readSubgraph; quantized tensors in a body read the same way):
//   IF             ONNX If: TFLite passes the branch inputs explicitly, an ONNX branch reads outer
//                  values by name, so branch input k is an Identity of the IF's input k + 1
//   WHILE          ONNX Loop without a trip count: the cond subgraph on the initial values in line
//                  before the loop (the first condition), and again at the end of the body on its
//                  results (the next condition); the loop variables are the carried values
//   CALL_ONCE      a subgraph run once at init: read when it only assigns constants to resource
//                  variables (VAR_HANDLE + ASSIGN_VARIABLE); a READ_VARIABLE of one is then the
//                  constant. Any other init subgraph, and ASSIGN_VARIABLE elsewhere (state kept
//                  between invokes), is refused by name.
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import type { Dim, Graph, Node, ValueInfo } from '../../ir/graph.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { CallOnceOptions } from '../generated/tflite/call-once-options.js';
import { IfOptions } from '../generated/tflite/if-options.js';
import { VarHandleOptions } from '../generated/tflite/var-handle-options.js';
import { WhileOptions } from '../generated/tflite/while-options.js';
import { options, outName, type Converter } from './ops.js';
import { readSubgraph, type OpContext, type TfliteModelContext, type TfliteSubgraphRead, type TfliteTensorInfo } from './read.js';

/** The ops that take RESOURCE tensors; any other op given one is refused. */
export const RESOURCE_OPS = new Set(['VAR_HANDLE', 'READ_VARIABLE', 'ASSIGN_VARIABLE']);

const OPSETS = { '': 21, nnport: 1 };

/** Models reading a CALL_ONCE's init subgraph now (its ASSIGN_VARIABLEs record constants). */
const initializing = new WeakSet<TfliteModelContext>();
/** Per subgraph read: the resource tensor a VAR_HANDLE gives -> its variable's key. */
const handles = new WeakMap<object, Map<number, string>>();

const where = (c: OpContext): string => `${c.opName} '${outName(c)}'${c.subgraph ? ` in subgraph ${c.subgraph}` : ''} of '${c.b.file}'`;

function fail(c: OpContext, message: string): never {
  throw new FormatError(`${c.opName} '${outName(c)}'${c.subgraph ? ` in subgraph ${c.subgraph}` : ''}: ${message}`, { file: c.b.file });
}

function inputTensors(c: OpContext, from: number): TfliteTensorInfo[] {
  return c.inputs.slice(from).map((i, k) => {
    if (i < 0) fail(c, `input ${from + k} is omitted; every value a subgraph takes must be given`);
    return c.b.tensors[i]!;
  });
}

/** A subgraph value's IR type; dims a TFLite signature leaves open (-1), or that `others` disagree on, unknown. */
function typeOf(t: TfliteTensorInfo, name: string, others: TfliteTensorInfo[] = []): ValueInfo {
  if (others.some((o) => o.shape.length !== t.shape.length)) return { name, dtype: t.dtype };
  const shape: Dim[] = t.shape.map((d, k) => (t.signature?.[k] === -1 || others.some((o) => o.shape[k] !== d || o.signature?.[k] === -1) ? null : d));
  return { name, dtype: t.dtype, shape };
}

function identity(input: string, output: string): Node {
  return { name: output, opType: 'Identity', domain: '', inputs: [input], outputs: [output], attrs: {} };
}

/**
 * A subgraph's outputs as a body's outputs: a value that is a graph input or initializer of the
 * body, or repeated, goes out through an Identity of its own (an ONNX body output is a value the
 * body computes).
 */
function bodyOutputs(r: TfliteSubgraphRead, nodes: Node[], inputs: Set<string>, types: (t: TfliteTensorInfo, i: number) => ValueInfo): ValueInfo[] {
  const seen = new Set<string>();
  return r.outputs.map((t, i) => {
    let name = t.name;
    if (seen.has(name) || inputs.has(name) || r.b.initializers.has(name)) {
      name = r.b.fresh(`${t.name}_out`);
      nodes.push(identity(t.name, name));
    }
    seen.add(name);
    return { ...types(t, i), name };
  });
}

/** Subgraph `index` read with its inputs bound to the values `args` (Identity nodes), checked against them. */
function readBound(c: OpContext, index: number, args: TfliteTensorInfo[], what: string): { r: TfliteSubgraphRead; binds: Node[] } {
  const r = readSubgraph(c.model, index, `${c.opName} '${outName(c)}' ${what}`);
  if (r.inputs.length !== args.length) fail(c, `${what} subgraph ${index} takes ${r.inputs.length} inputs, the op gives it ${args.length}`);
  const binds = r.inputs.map((t, k) => {
    const a = args[k]!;
    if (a.dtype !== t.dtype) fail(c, `${what} subgraph ${index} takes input ${k} as ${t.dtype}, the op gives ${a.dtype}`);
    return identity(a.name, t.name);
  });
  return { r, binds };
}

const readIf: Converter = (c) => {
  const o = options(c, BuiltinOptions.IfOptions, () => new IfOptions());
  if (!o) fail(c, 'it has no IfOptions');
  const [cond] = inputTensors(c, 0);
  if (!cond) fail(c, 'it has no condition input');
  if (cond.dtype !== 'bool' || cond.shape.reduce((a, d) => a * d, 1) !== 1) fail(c, `the condition '${cond.name}' is ${cond.dtype} [${cond.shape.join(', ')}], TFLite's IF takes one bool`);
  const args = inputTensors(c, 1);
  const outs = c.outputs.map((i) => c.b.tensors[i]!);
  const branch = (index: number, what: string): Graph => {
    const { r, binds } = readBound(c, index, args, what);
    if (r.outputs.length !== outs.length) fail(c, `${what} subgraph ${index} gives ${r.outputs.length} outputs, the op has ${outs.length}`);
    r.outputs.forEach((t, k) => {
      if (t.dtype !== outs[k]!.dtype) fail(c, `${what} subgraph ${index} gives output ${k} as ${t.dtype}, the op's is ${outs[k]!.dtype}`);
    });
    const nodes = [...binds, ...r.nodes];
    const outputs = bodyOutputs(r, nodes, new Set(), (t) => typeOf(t, t.name));
    return { name: r.name, nodes, inputs: [], outputs, initializers: r.b.initializers, opsets: { ...OPSETS } };
  };
  const thenBranch = branch(o.thenSubgraphIndex(), 'then');
  const elseBranch = branch(o.elseSubgraphIndex(), 'else');
  c.b.node('If', [cond.name], outs.map((t) => t.name), { then_branch: { type: 'graph', value: thenBranch }, else_branch: { type: 'graph', value: elseBranch } });
};

/** The condition a cond subgraph gives, as the bool scalar ONNX's Loop takes (TFLite's may be [1]). */
function condScalar(c: OpContext, r: TfliteSubgraphRead, index: number, nodes: Node[]): string {
  if (r.outputs.length !== 1) fail(c, `cond subgraph ${index} gives ${r.outputs.length} outputs, not 1`);
  const t = r.outputs[0]!;
  if (t.dtype !== 'bool' || t.shape.reduce((a, d) => a * d, 1) !== 1) fail(c, `cond subgraph ${index} gives ${t.dtype} [${t.shape.join(', ')}], not one bool`);
  if (!t.shape.length) return t.name;
  const s = r.b.fresh(`${t.name}_scalar`);
  const shape = r.b.int64s([], 'scalar_shape');
  nodes.push({ name: s, opType: 'Reshape', domain: '', inputs: [t.name, shape], outputs: [s], attrs: {} });
  return s;
}

const readWhile: Converter = (c) => {
  const o = options(c, BuiltinOptions.WhileOptions, () => new WhileOptions());
  if (!o) fail(c, 'it has no WhileOptions');
  const condIndex = o.condSubgraphIndex();
  const bodyIndex = o.bodySubgraphIndex();
  const args = inputTensors(c, 0);
  const outs = c.outputs.map((i) => c.b.tensors[i]!);
  if (outs.length !== args.length) fail(c, `it has ${args.length} inputs and ${outs.length} outputs; a loop gives back each value it carries`);
  outs.forEach((t, k) => {
    if (c.inputs.includes(c.outputs[k]!)) throw new UnsupportedError('TFLite WHILE writing its own input tensor', `${where(c)}: output ${k} is input tensor '${t.name}'`);
    if (t.dtype !== args[k]!.dtype) fail(c, `it carries input ${k} as ${args[k]!.dtype} but gives output ${k} as ${t.dtype}`);
  });

  // the first condition: cond on the initial values, in line before the loop
  const first = readBound(c, condIndex, args, 'cond');
  c.b.nodes.push(...first.binds, ...first.r.nodes);
  for (const [name, t] of first.r.b.initializers) c.b.initializers.set(name, t);
  const condInit = condScalar(c, first.r, condIndex, c.b.nodes);

  // the body, then cond on its results: the next iteration's condition
  const body = readSubgraph(c.model, bodyIndex, `${c.opName} '${outName(c)}' body`);
  if (body.inputs.length !== args.length) fail(c, `body subgraph ${bodyIndex} takes ${body.inputs.length} inputs, the loop carries ${args.length}`);
  if (body.outputs.length !== args.length) fail(c, `body subgraph ${bodyIndex} gives ${body.outputs.length} outputs, the loop carries ${args.length}`);
  body.inputs.forEach((t, k) => {
    if (t.dtype !== args[k]!.dtype || body.outputs[k]!.dtype !== t.dtype) {
      fail(c, `body subgraph ${bodyIndex} takes carried value ${k} as ${t.dtype} and gives it as ${body.outputs[k]!.dtype}, the loop carries ${args[k]!.dtype}`);
    }
  });
  const nodes = [...body.nodes];
  const next = readBound(c, condIndex, body.outputs, 'cond');
  nodes.push(...next.binds, ...next.r.nodes);
  for (const [name, t] of next.r.b.initializers) body.b.initializers.set(name, t);
  const condOut = condScalar(c, next.r, condIndex, nodes);
  // a carried value's dims: unknown where the initial value, the body's input or its output disagree
  const carried = (k: number) => [args[k]!, body.inputs[k]!, body.outputs[k]!, outs[k]!];
  const inputs: ValueInfo[] = [
    { name: body.b.fresh(`${body.name}/iteration`), dtype: 'int64', shape: [] },
    { name: body.b.fresh(`${body.name}/cond_in`), dtype: 'bool', shape: [] },
    ...body.inputs.map((t, k) => typeOf(t, t.name, carried(k))),
  ];
  const outputs = bodyOutputs(body, nodes, new Set(body.inputs.map((t) => t.name)), (t, k) => typeOf(t, t.name, carried(k)));
  let condName = condOut;
  if (outputs.some((v) => v.name === condName) || body.inputs.some((t) => t.name === condName)) {
    condName = body.b.fresh(`${condOut}_next`);
    nodes.push(identity(condOut, condName));
  }
  const graph: Graph = {
    name: body.name,
    nodes,
    inputs,
    outputs: [{ name: condName, dtype: 'bool', shape: [] }, ...outputs],
    initializers: body.b.initializers,
    opsets: { ...OPSETS },
  };
  c.b.node('Loop', ['', condInit, ...args.map((t) => t.name)], outs.map((t) => t.name), { body: { type: 'graph', value: graph } });
};

const callOnce: Converter = (c) => {
  const o = options(c, BuiltinOptions.CallOnceOptions, () => new CallOnceOptions());
  if (!o) fail(c, 'it has no CallOnceOptions');
  const index = o.initSubgraphIndex();
  const m = c.model;
  const count = m.model.subgraphsLength();
  if (index < 0 || index >= count) fail(c, `init subgraph index ${index} is out of range (${count} subgraphs)`);
  if (m.stack.includes(index)) fail(c, `init subgraph ${index} calls itself (${[...m.stack, index].join(' -> ')}); TFLite control flow does not recurse`);
  const sg = m.model.subgraphs(index)!;
  const others = new Set<string>();
  for (let k = 0; k < sg.operatorsLength(); k++) {
    const oi = sg.operators(k)!.opcodeIndex();
    const name = m.opcodes[oi]?.name;
    if (name === undefined) fail(c, `init subgraph ${index} operator ${k}: opcode index ${oi} is out of range (${m.opcodes.length} operator codes)`);
    if (name !== 'VAR_HANDLE' && name !== 'ASSIGN_VARIABLE') others.add(name);
  }
  if (others.size) {
    throw new UnsupportedError(`TFLite CALL_ONCE of a subgraph that runs ${[...others].join(', ')}`, `${where(c)}: only an init subgraph that assigns constants to resource variables is read`);
  }
  initializing.add(m);
  try {
    const r = readSubgraph(m, index, `${c.opName} init`);
    if (r.inputs.length || r.outputs.length) fail(c, `init subgraph ${index} has ${r.inputs.length} inputs and ${r.outputs.length} outputs; TFLite's takes none and gives none`);
  } finally {
    initializing.delete(m);
  }
};

/** The variable a VAR_HANDLE names: its container and shared_name (TFLite's resource id key). */
const varHandle: Converter = (c) => {
  const o = options(c, BuiltinOptions.VarHandleOptions, () => new VarHandleOptions());
  const out = c.outputs[0];
  if (out === undefined || !c.b.tensors[out]!.resource) fail(c, 'it gives no RESOURCE tensor');
  const key = `${o?.container() ?? ''}/${o?.sharedName() ?? ''}`;
  let map = handles.get(c.b);
  if (!map) handles.set(c.b, (map = new Map()));
  map.set(out, key);
};

function variableKey(c: OpContext): string {
  const i = c.inputs[0];
  const t = i === undefined || i < 0 ? undefined : c.b.tensors[i]!;
  if (!t?.resource) fail(c, 'its input 0 is not a RESOURCE tensor');
  const key = handles.get(c.b)?.get(i!);
  if (key === undefined) throw new UnsupportedError(`TFLite ${c.opName} of a resource no VAR_HANDLE before it gives`, `${where(c)}: resource '${t.name}'`);
  return key;
}

const assignVariable: Converter = (c) => {
  const key = variableKey(c);
  const value = c.inputs[1] === undefined || c.inputs[1] < 0 ? undefined : c.b.tensors[c.inputs[1]]!;
  if (!value) fail(c, 'it has no value input');
  if (!initializing.has(c.model)) {
    throw new UnsupportedError('TFLite ASSIGN_VARIABLE outside a CALL_ONCE initialisation', `${where(c)}: variable '${key}' would keep state between invokes`);
  }
  if (!value.data) throw new UnsupportedError('TFLite CALL_ONCE assigning a computed value', `${where(c)}: variable '${key}' is assigned '${value.name}', not a constant`);
  c.model.variables.set(key, value);
};

const readVariable: Converter = (c) => {
  const key = variableKey(c);
  const value = c.model.variables.get(key);
  if (!value) throw new UnsupportedError('TFLite READ_VARIABLE of a variable no CALL_ONCE before it assigns a constant', `${where(c)}: variable '${key}'`);
  const out = c.b.tensors[c.outputs[0] ?? -1];
  if (!out) fail(c, 'it has no output');
  if (out.dtype !== value.dtype || out.shape.length !== value.shape.length || out.shape.some((d, k) => d !== value.shape[k] && out.signature?.[k] !== -1)) {
    fail(c, `it reads variable '${key}' (${value.dtype} [${value.shape.join(', ')}]) into ${out.dtype} [${out.shape.join(', ')}]`);
  }
  // READ_VARIABLE copies the variable's bytes: the raw constant, read with the output's quantization
  c.b.node('Identity', [c.b.initializer(`${out.name}_value`, value.data!)], [out.name]);
};

export const TFLITE_READ_CONTROL_FLOW_OPS: Record<string, Converter> = {
  IF: readIf,
  WHILE: readWhile,
  CALL_ONCE: callOnce,
  VAR_HANDLE: varHandle,
  ASSIGN_VARIABLE: assignVariable,
  READ_VARIABLE: readVariable,
};

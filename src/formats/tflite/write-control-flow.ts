// Run-time control flow as TFLite writes it (TF's converter: tf.cond -> IF, tf.while_loop ->
// WHILE, each body one more SubGraph of the file).
//
//   If    IF(cond, v1..vk): then / else subgraphs take v1..vk (the outer values either branch
//         reads, in one order) as their inputs and give the If's outputs. Outer constants are
//         copied into the branch instead (a conv weight must be a constant there).
//   Loop  WHILE over loop vars [i, M?, cond?, carried..., outer reads...]: the cond subgraph is
//         i < M && cond (an absent M or cond dropped from it; ONNX ignores the body's cond when
//         the Loop has none), the body subgraph the ONNX body with i + 1, M and the outer reads
//         passed through. The counter stays int64 as ONNX has it (TFLite's ADD / LESS take int64).
//         A scan output (a value stacked per iteration) is one more loop var, starting [0, ...]
//         and grown by CONCATENATION of each iteration's slice; its slices need a static shape.
// Quantized (src/passes/quantize.ts): dynamic puts int8 weights in the bodies too; int8 / int16x8
// quantize each body on its own ranges, its boundary on the outer graph's parameters (a loop's
// carried value on one set), the dequantization of what crosses moved into the bodies: the IF /
// WHILE pass integers (or floats, where a side is float), never quantized themselves by the writer.
import { UnsupportedError } from '../../ir/errors.js';
import { outerReads, type Dim, type Graph, type Node, type ValueInfo } from '../../ir/graph.js';
import { allocArray } from '../../ir/dtypes.js';
import { Tensor } from '../../ir/tensor.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { IfOptions } from '../generated/tflite/if-options.js';
import { WhileOptions } from '../generated/tflite/while-options.js';
import type { Converter, WriteContext } from './ops-write.js';

function graphAttr(n: Node, name: string): Graph {
  const a = n.attrs[name];
  if (a?.type !== 'graph') throw new UnsupportedError(`${n.opType} without a '${name}' graph`, `node '${n.name}'`);
  return a.value;
}

/** A value of the graph being written, typed as its TFLite tensor is (a -1 of shape_signature an unknown dim). */
function typed(c: WriteContext, value: string, name = value): ValueInfo {
  const t = c.info(value);
  const shape: Dim[] = t.signature ? t.signature.map((d) => (d < 0 ? null : d)) : [...t.shape];
  return { name, dtype: t.dtype, shape };
}

/** The outer values `bodies` read: constants (copied into each body) and the rest (passed as inputs), each in first-read order. */
function outerValues(c: WriteContext, bodies: Graph[]): { constants: Map<string, Tensor>; passed: string[] } {
  const constants = new Map<string, Tensor>();
  const passed: string[] = [];
  for (const b of bodies) {
    for (const v of outerReads(b)) {
      const t = c.constantOf(v);
      if (t) constants.set(v, t);
      else if (!passed.includes(v)) passed.push(v);
    }
  }
  return { constants, passed };
}

const withConstants = (g: Graph, constants: Map<string, Tensor>): Map<string, Tensor> => new Map([...constants, ...g.initializers]);

const ifOp: Converter = (n, c) => {
  const branches = [graphAttr(n, 'then_branch'), graphAttr(n, 'else_branch')];
  const { constants, passed } = outerValues(c, branches);
  const inputs = passed.map((v) => typed(c, v));
  const [thenIndex, elseIndex] = branches.map((b, k) => c.addSubgraph({ ...b, name: `${n.name || 'if'}_${k ? 'else' : 'then'}`, inputs, initializers: withConstants(b, constants), valueInfo: undefined }));
  c.emit({
    code: BuiltinOperator.IF,
    inputs: [c.tensor(n.inputs[0]!), ...passed.map((v) => c.tensor(v))],
    outputs: n.outputs.map((o) => c.tensor(o)),
    options: (b) => [BuiltinOptions.IfOptions, IfOptions.createIfOptions(b, thenIndex!, elseIndex!)],
  });
};

const loopOp: Converter = (n, c) => {
  const body = graphAttr(n, 'body');
  const [trips, cond] = [n.inputs[0] ?? '', n.inputs[1] ?? ''];
  const carried = n.inputs.slice(2);
  const where = `node '${n.name}' in ${c.file}`;
  // scan outputs: loop vars that start [0, ...] and grow by one slice per iteration (CONCATENATION), so their slices need a static shape
  const scanOuts = body.outputs.slice(carried.length + 1);
  const scanShapes = scanOuts.map((o, j) => {
    const out = n.outputs[carried.length + j];
    const t = out ? c.info(out) : undefined;
    const slice = t && t.shape.length >= 1 && (!t.signature || t.signature.slice(1).every((d) => d >= 0)) ? t.shape.slice(1) : undefined;
    if (!slice) throw new UnsupportedError('Loop scan output of unknown slice shape in a TFLite file', `${where}: '${o.name}' is stacked per iteration by CONCATENATION from a [0, ...] start, which needs the shape of its slices`);
    return { dtype: t!.dtype, slice };
  });
  if (!trips && !cond) throw new UnsupportedError('Loop without a trip count or a condition in a TFLite file', `${where}: it never stops`);
  const { constants, passed } = outerValues(c, [body]);
  const [iter, condIn, ...carriedIn] = body.inputs;
  const taken = new Set<string>([...body.inputs.map((v) => v.name), ...body.outputs.map((v) => v.name), ...body.initializers.keys(), ...passed, ...body.nodes.flatMap((m) => m.outputs)]);
  const fresh = (base: string): string => {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
  const tripVar = trips ? fresh('trip_count') : '';
  // the loop vars, as the cond and body subgraphs name them
  const vars: ValueInfo[] = [
    { name: iter!.name, dtype: 'int64', shape: [] },
    ...(trips ? [{ name: tripVar, dtype: 'int64' as const, shape: [] }] : []),
    ...(cond ? [{ name: condIn!.name, dtype: 'bool' as const, shape: [] }] : []),
    ...carriedIn.map((v, k) => (v.dtype && v.shape ? v : typed(c, carried[k]!, v.name))),
    ...passed.map((v) => typed(c, v)),
  ];
  const stacked = scanOuts.map((o) => fresh(`${o.name}_stacked`));
  vars.push(...stacked.map((name, j) => ({ name, dtype: scanShapes[j]!.dtype, shape: [null, ...scanShapes[j]!.slice] })));
  const one = fresh('one');
  const next = fresh(`${iter!.name}_next`);
  const initializers = withConstants(body, constants);
  initializers.set(one, Tensor.int64([], [1]));
  // without a Loop condition the body's condition input is true (and its condition output is ignored)
  if (!cond) initializers.set(condIn!.name, new Tensor('bool', [], Uint8Array.of(1)));
  const stackNodes: Node[] = [];
  const stackedNext = scanOuts.map((o, j) => {
    const shape = fresh(`${o.name}_slice_shape`);
    initializers.set(shape, Tensor.int64([scanShapes[j]!.slice.length + 1], [1, ...scanShapes[j]!.slice]));
    const slice = fresh(`${o.name}_slice`);
    const next = fresh(`${o.name}_stacked_next`);
    stackNodes.push({ name: slice, opType: 'Reshape', domain: '', inputs: [o.name, shape], outputs: [slice], attrs: {} });
    stackNodes.push({ name: next, opType: 'Concat', domain: '', inputs: [stacked[j]!, slice], outputs: [next], attrs: { axis: { type: 'int', value: 0 } } });
    return { name: next, dtype: scanShapes[j]!.dtype, shape: [null, ...scanShapes[j]!.slice] };
  });
  const loopBody: Graph = {
    ...body,
    name: `${n.name || 'loop'}_body`,
    inputs: vars,
    nodes: [...body.nodes, ...stackNodes, { name: fresh(`${iter!.name}_increment`), opType: 'Add', domain: '', inputs: [iter!.name, one], outputs: [next], attrs: {} }],
    initializers,
    outputs: [
      { name: next, dtype: 'int64', shape: [] },
      ...(trips ? [vars[1]!] : []),
      ...(cond ? [body.outputs[0]!] : []),
      ...body.outputs.slice(1, 1 + carried.length),
      ...passed.map((v) => vars.find((x) => x.name === v)!),
      ...stackedNext,
    ],
    valueInfo: undefined,
  };
  const go = fresh('continue');
  const condNodes: Node[] = [];
  if (trips && cond) {
    const below = fresh('below_trip_count');
    condNodes.push({ name: below, opType: 'Less', domain: '', inputs: [iter!.name, tripVar], outputs: [below], attrs: {} });
    condNodes.push({ name: go, opType: 'And', domain: '', inputs: [below, condIn!.name], outputs: [go], attrs: {} });
  } else if (trips) condNodes.push({ name: go, opType: 'Less', domain: '', inputs: [iter!.name, tripVar], outputs: [go], attrs: {} });
  else condNodes.push({ name: go, opType: 'Identity', domain: '', inputs: [condIn!.name], outputs: [go], attrs: {} });
  const loopCond: Graph = { name: `${n.name || 'loop'}_cond`, nodes: condNodes, inputs: vars, outputs: [{ name: go, dtype: 'bool', shape: [] }], initializers: new Map(), opsets: body.opsets };
  const condIndex = c.addSubgraph(loopCond);
  const bodyIndex = c.addSubgraph(loopBody);
  const base = n.name || 'while';
  const scalar = (dtype: 'int64' | 'bool') => ({ name: '', dtype, shape: [] as number[] });
  const outputs = [
    c.addTensor(`${base}_iterations`, scalar('int64')),
    ...(trips ? [c.addTensor(`${base}_trip_count`, scalar('int64'))] : []),
    ...(cond ? [c.addTensor(`${base}_cond`, scalar('bool'))] : []),
    ...carried.map((v, k) => (n.outputs[k] ? c.tensor(n.outputs[k]!) : c.addTensor(`${base}_carried_${k}`, c.info(v)))),
    ...passed.map((v) => c.addTensor(`${v}_after_${base}`, c.info(v))),
    ...scanOuts.map((o, j) => (n.outputs[carried.length + j] ? c.tensor(n.outputs[carried.length + j]!) : c.addTensor(`${base}_scan_${j}`, { name: '', dtype: scanShapes[j]!.dtype, shape: [1, ...scanShapes[j]!.slice], signature: [-1, ...scanShapes[j]!.slice] }))),
  ];
  c.emit({
    code: BuiltinOperator.WHILE,
    inputs: [c.addConstant(`${base}_iteration_0`, Tensor.int64([], [0])), ...(trips ? [c.tensor(trips)] : []), ...(cond ? [c.tensor(cond)] : []), ...carried.map((v) => c.tensor(v)), ...passed.map((v) => c.tensor(v)), ...scanShapes.map((t, j) => c.addConstant(`${stacked[j]}_empty`, new Tensor(t.dtype, [0, ...t.slice], allocArray(t.dtype, 0))))],
    outputs,
    options: (b) => [BuiltinOptions.WhileOptions, WhileOptions.createWhileOptions(b, condIndex, bodyIndex)],
  });
};

/** IR op key -> converter, for the writer's table chain. */
export const TFLITE_WRITE_CONTROL_FLOW_OPS: Record<string, Converter> = {
  If: ifOp,
  Loop: loopOp,
};

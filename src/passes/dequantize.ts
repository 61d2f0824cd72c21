// --dequantize: a quantized QDQ graph (a TFLite int8 model as the reader gives it, or a QDQ ONNX
// model) back to a float model. DequantizeLinear of constants becomes float constants (the
// weights as the quantized model computes with them); every quantized activation becomes the
// float value it stands for: QuantizeLinear/DequantizeLinear pairs vanish, ops that moved integer
// data (Transpose, Pad, Reshape, MaxPool...) move floats, and integer graph inputs/outputs become
// float32 ones.
import type { DType } from '../ir/dtypes.js';
import { QuantizationError, UnsupportedError } from '../ir/errors.js';
import { attrInt, readersOf, type Graph, type Node, type ValueInfo } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';

/** What to tell a user whose quantized model (a QDQ graph: an int8 TFLite file) meets a float-only writer. */
export const DEQUANTIZE_HINT = 'the model is quantized: --dequantize (library: { dequantize: true }) writes its float equivalent';

export interface DequantizeResult {
  graph: Graph;
  /** what changed that a user should know */
  notes: string[];
}

const QUANTIZED: ReadonlySet<DType> = new Set<DType>(['int8', 'uint8', 'int16', 'uint16']);

/** Ops that only move or select elements: on quantized data they keep its scale and zero point. */
const MOVES_DATA = new Set(['Transpose', 'Reshape', 'Pad', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity', 'MaxPool', 'Split', 'Slice', 'Gather', 'Concat', 'DepthToSpace', 'SpaceToDepth', 'Tile', 'Expand', 'GlobalMaxPool', 'ReduceMax', 'ReduceMin', 'Resize']);

interface QuantParams {
  scale: Tensor;
  zeroPoint?: Tensor;
  axis?: number;
}

const isDefault = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

/** `(q - zero_point) * scale`, per tensor or along `axis`. */
function dequantizeTensor(q: Tensor, p: QuantParams): Tensor<Float32Array> {
  const x = q.toNumbers();
  const s = p.scale.toNumbers();
  const z = p.zeroPoint ? p.zeroPoint.toNumbers() : [];
  const out = new Float32Array(x.length);
  if (s.length === 1) {
    const zp = z[0] ?? 0;
    for (let i = 0; i < x.length; i++) out[i] = (x[i]! - zp) * s[0]!;
    return new Tensor('float32', q.shape, out);
  }
  const axis = (p.axis ?? 1) < 0 ? p.axis! + q.rank : p.axis ?? 1;
  if (q.shape[axis] !== s.length) throw new QuantizationError(`${s.length} scales on axis ${axis} of shape [${q.shape.join(', ')}]`);
  const inner = q.shape.slice(axis + 1).reduce((a, d) => a * d, 1);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / inner) % s.length;
    out[i] = (x[i]! - (z[c] ?? 0)) * s[c]!;
  }
  return new Tensor('float32', q.shape, out);
}

export function dequantizeGraph(graph: Graph): DequantizeResult {
  const inputNames = new Set(graph.inputs.map((v) => v.name));
  const constant = (name: string | undefined): Tensor | undefined => (name && !inputNames.has(name) ? graph.initializers.get(name) : undefined);
  const consumers = readersOf(graph.nodes);
  const paramsOf = (n: Node): QuantParams => {
    const scale = constant(n.inputs[1]);
    const zeroPoint = n.inputs[2] ? constant(n.inputs[2]) : undefined;
    if (!scale || (n.inputs[2] && !zeroPoint)) throw new UnsupportedError(`${n.opType} with a computed scale or zero point`, `node '${n.name}'`);
    if (attrInt(n, 'block_size', 0) !== 0) throw new UnsupportedError(`blocked ${n.opType}`, `node '${n.name}'`);
    return { scale, zeroPoint, axis: attrInt(n, 'axis') };
  };

  // quantized activations: QuantizeLinear outputs, integer graph inputs read by a DequantizeLinear,
  // and what data-moving ops make of them; each with the parameters of the float value it encodes
  const quantized = new Map<string, QuantParams | undefined>();
  for (const v of graph.inputs) if (!graph.initializers.has(v.name) && QUANTIZED.has(v.dtype)) quantized.set(v.name, undefined);
  for (const n of graph.nodes) if (n.opType === 'QuantizeLinear' && isDefault(n)) quantized.set(n.outputs[0]!, paramsOf(n));
  const order: Node[] = [];
  const moves = new Set<Node>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const n of graph.nodes) {
      if (n.opType === 'DequantizeLinear' || n.opType === 'QuantizeLinear' || moves.has(n) || !quantized.has(n.inputs[0]!)) continue;
      if (!MOVES_DATA.has(n.opType)) throw new UnsupportedError(`${n.opType} on quantized data`, `node '${n.name}' reads '${n.inputs[0]}' as integers`);
      const p = quantized.get(n.inputs[0]!);
      for (const o of n.outputs) if (o) quantized.set(o, p);
      order.push(n);
      moves.add(n);
      grew = true;
    }
  }
  // an integer graph input takes the parameters of the DequantizeLinear that reads it (through moves)
  const findParams = (name: string, seen = new Set<string>()): QuantParams | undefined => {
    if (seen.has(name)) return undefined;
    seen.add(name);
    for (const c of consumers.get(name) ?? []) {
      if (c.opType === 'DequantizeLinear' && c.inputs[0] === name) return paramsOf(c);
      if (moves.has(c) && c.inputs[0] === name) {
        for (const o of c.outputs) {
          const p = o ? findParams(o, seen) : undefined;
          if (p) return p;
        }
      }
    }
    return undefined;
  };
  for (const [name, p] of quantized) {
    if (p) continue;
    const found = findParams(name);
    if (!found) throw new QuantizationError(`integer input '${name}' is never dequantized: its scale is unknown`);
    quantized.set(name, found);
  }
  // values made by moves of an input inherit the input's parameters
  for (const n of order) {
    const p = quantized.get(n.inputs[0]!);
    for (const o of n.outputs) if (o && !quantized.get(o)) quantized.set(o, p);
  }

  // the same float value under several names: DQ(Q(x)) is x
  const alias = new Map<string, string>();
  const root = (name: string): string => {
    let r = name;
    while (alias.has(r)) r = alias.get(r)!;
    return r;
  };
  const initializers = new Map(graph.initializers);
  const kept: Node[] = [];
  let folded = 0;
  let removed = 0;
  for (const n of graph.nodes) {
    if (n.opType === 'DequantizeLinear' && isDefault(n)) {
      const data = constant(n.inputs[0]);
      if (data) {
        initializers.set(n.outputs[0]!, dequantizeTensor(data, paramsOf(n)));
        folded++;
        continue;
      }
      if (!quantized.has(n.inputs[0]!)) throw new UnsupportedError('DequantizeLinear of a computed integer value', `node '${n.name}'`);
      alias.set(n.outputs[0]!, n.inputs[0]!);
      removed++;
      continue;
    }
    if (n.opType === 'QuantizeLinear' && isDefault(n)) {
      alias.set(n.outputs[0]!, n.inputs[0]!);
      removed++;
      continue;
    }
    if (n.opType === 'Pad' && moves.has(n) && n.inputs[2]) {
      // integer padding fills with a quantized value (the zero point: 0.0); pad with its float
      const value = constant(n.inputs[2]);
      if (!value) throw new UnsupportedError('Pad of quantized data with a computed value', `node '${n.name}'`);
      const name = `${n.inputs[2]}_dequantized`;
      initializers.set(name, dequantizeTensor(value, quantized.get(n.inputs[0]!)!));
      kept.push({ ...n, inputs: [n.inputs[0]!, n.inputs[1]!, name, ...n.inputs.slice(3)] });
      continue;
    }
    kept.push(n);
  }

  // each group of aliases keeps one name: a graph input's or output's where there is one
  const outputNames = new Set(graph.outputs.map((v) => v.name));
  const rename = new Map<string, string>();
  const extra: Node[] = [];
  const groups = new Map<string, string[]>();
  for (const name of alias.keys()) {
    const r = root(name);
    (groups.get(r) ?? groups.set(r, [r]).get(r)!).push(name);
  }
  for (const [r, names] of groups) {
    const fixed = names.filter((v) => inputNames.has(v) || outputNames.has(v));
    const keep = fixed.find((v) => inputNames.has(v)) ?? fixed[0] ?? r;
    for (const v of names) if (v !== keep) rename.set(v, keep);
    // two graph outputs of one value: the others become copies
    for (const v of fixed) if (v !== keep && !inputNames.has(v)) {
      rename.delete(v);
      extra.push({ name: `${v}/copy`, opType: 'Identity', domain: '', inputs: [keep], outputs: [v], attrs: {} });
    }
    if (fixed.filter((v) => inputNames.has(v)).length > 1) throw new QuantizationError(`graph inputs ${fixed.join(', ')} are one value`);
  }
  const nameOf = (v: string): string => (v ? rename.get(v) ?? v : v);
  const nodes = [...kept.map((n) => ({ ...n, inputs: n.inputs.map(nameOf), outputs: n.outputs.map(nameOf) })), ...extra];
  const floatInfo = (v: ValueInfo): ValueInfo => (quantized.has(v.name) || QUANTIZED.has(v.dtype) ? { ...v, dtype: 'float32' } : v);
  const inputs = graph.inputs.map((v) => (quantized.has(v.name) ? { ...v, dtype: 'float32' as DType } : v));
  const outputs = graph.outputs.map((v) => floatInfo({ ...v, name: nameOf(v.name) }));
  // drop the integer data only the removed DequantizeLinear nodes read
  const read = new Set(nodes.flatMap((n) => n.inputs));
  for (const v of outputs) read.add(v.name);
  for (const name of [...initializers.keys()]) if (!read.has(name) && !inputNames.has(name)) initializers.delete(name);
  const valueInfo = graph.valueInfo
    ?.filter((v) => !rename.has(v.name))
    .map((v) => (quantized.has(v.name) ? { ...v, dtype: 'float32' as DType } : v));
  const notes = folded || removed ? [`dequantized: ${folded} constants became float, ${removed} QuantizeLinear/DequantizeLinear nodes removed, ${[...quantized.keys()].filter((v) => inputNames.has(v)).length} integer inputs became float32`] : [];
  return { graph: { ...graph, nodes, inputs, outputs, initializers, valueInfo }, notes };
}

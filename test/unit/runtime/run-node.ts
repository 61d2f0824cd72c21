// Run one op through the real executor: a graph of a single node.
import type { Attr, Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraphSync } from '../../../src/runtime/executor.js';

export const attr = {
  i: (value: number): Attr => ({ type: 'int', value }),
  f: (value: number): Attr => ({ type: 'float', value }),
  s: (value: string): Attr => ({ type: 'string', value }),
  is: (value: number[]): Attr => ({ type: 'ints', value }),
  fs: (value: number[]): Attr => ({ type: 'floats', value }),
  t: (value: Tensor): Attr => ({ type: 'tensor', value }),
};

/** Inputs given as undefined are omitted optional inputs (''). */
export function runNode(opType: string, inputs: Array<Tensor | undefined>, attrs: Record<string, Attr> = {}, opset = 17, outputs = 1): Tensor[] {
  const names = inputs.map((t, i) => (t ? `in${i}` : ''));
  const graph: Graph = {
    name: opType,
    nodes: [{ name: `${opType}_0`, opType, domain: '', inputs: names, outputs: Array.from({ length: outputs }, (_, i) => `out${i}`), attrs }],
    inputs: inputs.flatMap((t, i) => (t ? [{ name: `in${i}`, dtype: t.dtype, shape: [...t.shape] }] : [])),
    outputs: Array.from({ length: outputs }, (_, i) => ({ name: `out${i}`, dtype: 'float32' as const })),
    initializers: new Map(),
    opsets: { '': opset },
  };
  const feeds = new Map(inputs.flatMap((t, i) => (t ? [[`in${i}`, t] as const] : [])));
  const res = runGraphSync(graph, feeds);
  return Array.from({ length: outputs }, (_, i) => res.outputs.get(`out${i}`)!);
}

export const f32 = (shape: number[], values: number[]) => Tensor.float32(shape, values);
export const i64 = (shape: number[], values: number[]) => Tensor.int64(shape, values);
export const vals = (t: Tensor) => t.toNumbers();

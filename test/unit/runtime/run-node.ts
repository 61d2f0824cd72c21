// Run one op through the real executor, and through onnxruntime-node: a graph of a single node.
import type { Attr, Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraphSync } from '../../../src/runtime/executor.js';
import { ortRun } from '../../support/ort.js';

export const attr = {
  i: (value: number): Attr => ({ type: 'int', value }),
  f: (value: number): Attr => ({ type: 'float', value }),
  s: (value: string): Attr => ({ type: 'string', value }),
  is: (value: number[]): Attr => ({ type: 'ints', value }),
  fs: (value: number[]): Attr => ({ type: 'floats', value }),
  t: (value: Tensor): Attr => ({ type: 'tensor', value }),
};

/** A graph of the one node, its inputs (undefined: an omitted optional input '') as graph inputs. */
function nodeGraph(opType: string, inputs: Array<Tensor | undefined>, attrs: Record<string, Attr>, opset: number, outputs: number): Graph {
  return {
    name: opType,
    nodes: [{ name: `${opType}_0`, opType, domain: '', inputs: inputs.map((t, i) => (t ? `in${i}` : '')), outputs: Array.from({ length: outputs }, (_, i) => `out${i}`), attrs }],
    inputs: inputs.flatMap((t, i) => (t ? [{ name: `in${i}`, dtype: t.dtype, shape: [...t.shape] }] : [])),
    outputs: Array.from({ length: outputs }, (_, i) => ({ name: `out${i}`, dtype: 'float32' as const })),
    initializers: new Map(),
    opsets: { '': opset },
  };
}

const feedsOf = (inputs: Array<Tensor | undefined>): Array<[string, Tensor]> => inputs.flatMap((t, i) => (t ? [[`in${i}`, t] as [string, Tensor]] : []));

/** The node's output(s) from nnport's executor. */
export function runNode(opType: string, inputs: Array<Tensor | undefined>, attrs: Record<string, Attr> = {}, opset = 17, outputs = 1): Tensor[] {
  const res = runGraphSync(nodeGraph(opType, inputs, attrs, opset, outputs), new Map(feedsOf(inputs)));
  return Array.from({ length: outputs }, (_, i) => res.outputs.get(`out${i}`)!);
}

/** The node's output(s) in onnxruntime-node. */
export async function ortNode(opType: string, inputs: Array<Tensor | undefined>, attrs: Record<string, Attr>, opset = 17, outputs = 1): Promise<Tensor[]> {
  const g = nodeGraph(opType, inputs, attrs, opset, outputs);
  // declared output dtypes do not matter to ort beyond the model check: take them from nnport's run
  g.outputs = runNode(opType, inputs, attrs, opset, outputs).map((t, i) => ({ name: `out${i}`, dtype: t.dtype, shape: [...t.shape] }));
  return [...(await ortRun(g, Object.fromEntries(feedsOf(inputs)))).values()];
}

export const f32 = (shape: number[], values: number[]) => Tensor.float32(shape, values);
export const i64 = (shape: number[], values: number[]) => Tensor.int64(shape, values);
export const vals = (t: Tensor) => t.toNumbers();

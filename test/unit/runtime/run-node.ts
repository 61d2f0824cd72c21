// Run one op through the real executor, and through onnxruntime-node: a graph of a single node.
import * as ort from 'onnxruntime-node';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
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

/** The node's output(s) in onnxruntime-node; omitted optional inputs are undefined. */
export async function ortNode(opType: string, inputs: Array<Tensor | undefined>, attrs: Record<string, Attr>, opset = 17, outputs = 1): Promise<ort.Tensor[]> {
  const names = inputs.map((t, i) => (t ? `in${i}` : ''));
  const g: Graph = {
    name: opType,
    nodes: [{ name: 'n', opType, domain: '', inputs: names, outputs: Array.from({ length: outputs }, (_, i) => `out${i}`), attrs }],
    inputs: inputs.flatMap((t, i) => (t ? [{ name: `in${i}`, dtype: t.dtype, shape: [...t.shape] }] : [])),
    outputs: Array.from({ length: outputs }, (_, i) => ({ name: `out${i}`, dtype: 'float32' as const })),
    initializers: new Map(),
    opsets: { '': opset },
  };
  // declared output dtypes do not matter to ort beyond the model check: take them from nnport's run
  const ours = runNode(opType, inputs, attrs, opset, outputs);
  g.outputs = ours.map((t, i) => ({ name: `out${i}`, dtype: t.dtype, shape: [...t.shape] }));
  const session = await ort.InferenceSession.create(writeOnnx(g), { logSeverityLevel: 3 });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    inputs.forEach((t, i) => {
      if (t) feeds[`in${i}`] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.shape]);
    });
    const out = await session.run(feeds);
    return Array.from({ length: outputs }, (_, i) => out[`out${i}`]!);
  } finally {
    await session.release();
  }
}

export const f32 = (shape: number[], values: number[]) => Tensor.float32(shape, values);
export const i64 = (shape: number[], values: number[]) => Tensor.int64(shape, values);
export const vals = (t: Tensor) => t.toNumbers();

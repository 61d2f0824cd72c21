import type { Attr, Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraphSync } from '../../../src/runtime/executor.js';
import type { AttrValue } from './onnx-single-node.js';

export function irAttr(v: AttrValue): Attr {
  if (typeof v === 'number') return { type: 'int', value: v };
  if (typeof v === 'string') return { type: 'string', value: v };
  if (Array.isArray(v)) return { type: 'ints', value: v };
  if ('float' in v) return { type: 'float', value: v.float };
  return { type: 'floats', value: v.floats };
}

/** Run one node on nnport's runtime; inputs are fed as graph inputs (undefined = omitted). */
export function runNode(opType: string, inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue> = {}, opset = 17, domain = ''): Tensor {
  const names = inputs.map((t, i) => (t ? `in${i}` : ''));
  const node: Node = {
    name: `${opType.toLowerCase()}_0`,
    opType,
    domain,
    inputs: names,
    outputs: ['y'],
    attrs: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, irAttr(v)])),
  };
  const graph: Graph = {
    name: 'g',
    nodes: [node],
    inputs: inputs.flatMap((t, i) => (t ? [{ name: `in${i}`, dtype: t.dtype, shape: [...t.shape] }] : [])),
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map(),
    opsets: { '': opset },
  };
  const feeds = new Map<string, Tensor>();
  inputs.forEach((t, i) => t && feeds.set(`in${i}`, t));
  return runGraphSync(graph, feeds).outputs.get('y')!;
}

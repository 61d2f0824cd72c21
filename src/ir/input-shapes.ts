// `--input-shape NAME=d0,d1,...` (ReadOptions.inputShapes) for the formats whose readers do not
// take it themselves (TensorFlow and Caffe readers do: a placeholder's or data blob's shape shapes
// their whole import): the graph's inputs get the given shapes where the file leaves dims open.
// A Keras LSTM over an open time axis, or an ONNX model with symbolic dims, then converts where
// the target needs fixed sizes (a recurrent op unrolled over its steps, a Reshape target).
import { UsageError } from './errors.js';
import type { Graph } from './graph.js';

/** The graph with its inputs shaped as `shapes` says ('' names the only input); checked against what the file declares. */
export function withInputShapes(graph: Graph, shapes: Readonly<Record<string, readonly number[]>>, file: string): Graph {
  const inputs = graph.inputs.filter((v) => !graph.initializers.has(v.name));
  const names = inputs.map((v) => `'${v.name}'`).join(', ');
  const given = new Map<string, readonly number[]>();
  for (const [name, shape] of Object.entries(shapes)) {
    if (name === '' && inputs.length !== 1) throw new UsageError(`'${file}' has ${inputs.length} inputs (${names}): name the one --input-shape is for (NAME=d0,d1,...)`);
    const v = name === '' ? inputs[0]! : inputs.find((i) => i.name === name);
    if (!v) throw new UsageError(`--input-shape names '${name}', which is not an input of '${file}' (inputs: ${names})`);
    if (v.shape) {
      if (v.shape.length !== shape.length) throw new UsageError(`--input-shape gives '${v.name}' ${shape.length} dims; '${file}' declares ${v.shape.length} ([${v.shape.map((d) => d ?? '?').join(', ')}])`);
      const clash = v.shape.findIndex((d, i) => typeof d === 'number' && d !== shape[i]);
      if (clash >= 0) throw new UsageError(`--input-shape gives '${v.name}' dim ${clash} = ${shape[clash]}; '${file}' fixes it at ${v.shape[clash]}`);
    }
    given.set(v.name, shape);
  }
  if (!given.size) return graph;
  return { ...graph, inputs: graph.inputs.map((v) => (given.has(v.name) ? { ...v, shape: [...given.get(v.name)!] } : v)) };
}

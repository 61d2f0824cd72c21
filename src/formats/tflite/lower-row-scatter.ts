// ScatterElements of whole rows as ScatterND, before the TFLite writer runs: torchvision's
// MultiScaleRoIAlign scatters each FPN level's pooled boxes back into place with
// `result.scatter(0, idx.view(-1, 1, 1, 1).expand(k, C, h, w), level)`, every index of a row the same.
// Written element by element that is a (k·C·h·w, 4) coordinate tensor built at run time (k comes from
// NMS); as ScatterND it is the k row indices and the rows themselves, which SCATTER_ND takes as they are.
import type { Graph, Node } from '../../ir/graph.js';
import { attrInt, attrString } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { GraphRewriter } from '../../ir/rewriter.js';
import { Tensor } from '../../ir/tensor.js';

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';

export function rowScattersAsScatterNd(g: Graph): Graph {
  const nodes = g.nodes.filter((n) => n.opType === 'ScatterElements' && isOnnx(n) && attrString(n, 'reduction', 'none') === 'none');
  if (!nodes.length) return g;
  const values = inferShapes(g, { record: false, onError: 'unknown' }).values;
  const rw = new GraphRewriter(g);
  for (const n of nodes) {
    const expand = rw.producer(n.inputs[1]!);
    if (expand?.opType !== 'Expand' || !isOnnx(expand)) continue;
    const rank = values.get(n.inputs[1]!)?.shape?.length;
    const rows = values.get(expand.inputs[0]!)?.shape;
    const axis = attrInt(n, 'axis', 0);
    // (the rows' index is constant along every other axis: the source of the Expand has 1 there)
    if (!rank || rows?.length !== rank || (axis !== 0 && axis !== -rank) || rows.slice(1).some((d) => d !== 1)) continue;
    const shape = rw.addInitializer(`${n.name}/row_index_shape`, Tensor.int64([2], [-1, 1]));
    const index = rw.add({ opType: 'Reshape', name: `${n.name}/row_index`, inputs: [expand.inputs[0]!, shape] });
    rw.replaceNode(n, { opType: 'ScatterND', inputs: [n.inputs[0]!, index, n.inputs[2]!], attrs: {} });
  }
  rw.sweep();
  return rw.toGraph();
}

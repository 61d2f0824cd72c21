// What a graph needs before the Keras / TF.js writers: constants folded (with a concrete batch
// of 1 so that exported shape subgraphs fold into the Reshape targets Keras layers need) and,
// for an NCHW graph, the layout pass to channels-last nnport ops. The written model keeps a
// free batch dimension: Keras layers never name it.
import { UnsupportedError } from '../ir/errors.js';
import type { Graph } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { convTransposeAsValid, liftConvTranspose1d } from '../passes/conv-transpose-valid.js';
import { expandGroupedConv } from '../passes/expand-grouped-conv.js';
import { foldBatchNorm } from '../passes/fold-bn.js';
import { foldConstants } from '../passes/fold-constants.js';
import { fuseBias } from '../passes/fuse-bias.js';
import { fuseTorchAttention } from '../passes/fuse-torch-attention.js';
import { needsChannelsLast, toChannelsLast, type KeptTranspose } from '../passes/layout.js';
import { createNodeEvaluator } from '../runtime/evaluate.js';
import { timeMajorInputs } from '../formats/keras/recurrent-write.js';

export interface KerasPrepareOptions {
  /** fold a BatchNormalization that directly follows a conv into the conv's kernel and bias (only on request) */
  foldBn?: boolean;
  /** write grouped convs as plain convs with block-diagonal kernels (what TF.js can run) */
  expandGroupedConv?: boolean;
}

/**
 * Keras layers never touch the batch: a Reshape of computed data whose output's first dim is not
 * its input's (both known, as the source graph declares them: a Flatten with axis 0 read from a
 * .tflite, [2, 3, 4, 5] -> [1, 120]) has no Keras layer. Checked on the graph as it comes, before
 * the batch is made free (then the target's fixed first dim could no longer be told from a batch).
 */
function refuseBatchReshapes(g: Graph): void {
  if (!g.nodes.some((n) => n.opType === 'Reshape')) return;
  const shapes = inferShapes(g, { onError: 'unknown' }).values;
  for (const n of g.nodes) {
    if (n.opType !== 'Reshape' || (n.domain !== '' && n.domain !== 'ai.onnx') || g.initializers.has(n.inputs[0]!)) continue;
    const from = shapes.get(n.inputs[0]!)?.shape?.[0];
    const to = shapes.get(n.outputs[0]!)?.shape?.[0];
    if (typeof from === 'number' && typeof to === 'number' && from !== to) throw new UnsupportedError(`Reshape that changes the batch dimension (${from} -> ${to}) in a Keras model`, `node '${n.name || n.outputs[0]}': Keras layers keep the batch`);
  }
}

export async function prepareForKeras(source: Graph, options: KerasPrepareOptions = {}): Promise<{ graph: Graph; transposes: KeptTranspose[]; notes: string[] }> {
  // PyTorch's nn.MultiheadAttention folds its heads into the batch: one Attention op (a Keras
  // MultiHeadAttention layer) where the pattern is exactly torch's, before that batch check
  const attention = fuseTorchAttention(source);
  const graph = attention.graph;
  refuseBatchReshapes(graph);
  const evaluate = await createNodeEvaluator();
  // the layout pass sees a free batch dim (else it may fold the batch into a flatten), ...
  // (a time-major [T, B, ...] input of a recurrent op has its batch on axis 1)
  const timeMajor = timeMajorInputs(graph);
  const withBatch = (g: Graph, batch: number | string): Graph => ({
    ...g,
    inputs: g.inputs.map((v) => {
      if (!v.shape || v.shape.length < 2 || g.initializers.has(v.name)) return v;
      const at = timeMajor.has(v.name) ? 1 : 0;
      return { ...v, shape: v.shape.map((d, i) => (i === at ? batch : d)) };
    }),
  });
  let g = foldConstants(withBatch(graph, 'batch'), { evaluate }).graph;
  let transposes: KeptTranspose[] = [];
  let notes: string[] = [...timeMajor].map((v) => `input '${v}' is time-major [time, batch, ...]: the Keras model takes it batch-major [batch, time, ...] (Keras recurrent layers are batch-major), and its per-step outputs are batch-major too`);
  // ConvTranspose pads / output_padding / groups / dilation / 1-D as Keras layers express them
  const convT = convTransposeAsValid(g, { target: 'Keras' });
  g = convT.graph;
  if (needsChannelsLast(g)) {
    const r = toChannelsLast(g, { target: 'keras' });
    g = r.graph;
    transposes = r.transposes;
    notes = r.notes;
  }
  const lift = liftConvTranspose1d(g);
  g = lift.graph;
  notes = [...notes, ...convT.notes, ...lift.notes];
  // ... then a batch of 1 folds what is left of the shape subgraphs into static targets
  g = foldConstants(withBatch(g, 1), { evaluate }).graph;
  // Keras has no layer for an Add of a per-channel constant: a separate bias joins its Conv / Dense
  const biases = fuseBias(g);
  g = biases.graph;
  if (biases.fused.length) notes = [...notes, `${biases.fused.length} bias Add/Sub node(s) folded into the conv or dense layer before them`];
  if (options.foldBn) {
    const r = foldBatchNorm(g);
    g = r.graph;
    if (r.folded.length) notes = [...notes, `${r.folded.length} BatchNormalization layer(s) folded into the conv before them (--fold-bn)`];
  }
  if (options.expandGroupedConv) {
    const r = expandGroupedConv(g);
    g = r.graph;
    notes = [...notes, ...r.notes];
  }
  if (attention.fused.length) notes = [...notes, `${attention.fused.length} PyTorch MultiheadAttention written as Keras MultiHeadAttention (${attention.fused.join(', ')})`];
  return { graph: g, transposes, notes };
}

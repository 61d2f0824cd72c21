// What a graph needs before the Keras / TF.js writers: constants folded (with a concrete batch
// of 1 so that exported shape subgraphs fold into the Reshape targets Keras layers need) and,
// for an NCHW graph, the layout pass to channels-last nnport ops. The written model keeps a
// free batch dimension: Keras layers never name it.
import { UnsupportedError } from '../ir/errors.js';
import { isOnnxOp, type Graph } from '../ir/graph.js';
import { inferShapes } from '../ir/ops/index.js';
import { Tensor } from '../ir/tensor.js';
import { convTransposeAsValid, liftConvTranspose1d } from '../passes/conv-transpose-valid.js';
import { ceilPoolAsPads } from '../passes/ceil-pool-as-pads.js';
import { expandGroupedConv } from '../passes/expand-grouped-conv.js';
import { spreadDilatedDepthwise } from '../passes/spread-dilated-depthwise.js';
import { fuseGroupNorm } from '../passes/fuse-group-norm.js';
import { foldBatchNorm } from '../passes/fold-bn.js';
import { constantNodesToInitializers, foldConstants } from '../passes/fold-constants.js';
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
  /** dilated depthwise convs written undilated with zero-spread kernels (TF.js 4.9's DepthwiseConv2D ignores dilation_rate) */
  spreadDilatedDepthwise?: boolean;
}

/** The values computed from a graph input (anything else is a constant, whatever computes it). */
function inputDependent(g: Graph): Set<string> {
  const live = new Set(g.inputs.filter((v) => !g.initializers.has(v.name)).map((v) => v.name));
  for (const n of g.nodes) if (n.inputs.some((v) => live.has(v))) n.outputs.forEach((v) => live.add(v));
  return live;
}

/**
 * Keras layers never touch the batch: a Reshape of computed data whose output's first dim is not
 * its input's (both known, as the source graph declares them: a Flatten with axis 0 read from a
 * .tflite, [2, 3, 4, 5] -> [1, 120]) has no Keras layer. Checked on the graph as it comes, before
 * the batch is made free (then the target's fixed first dim could no longer be told from a batch).
 * A Reshape of data no input reaches (YOLO's anchor grid, built from Range / Expand / Concat) is a
 * constant and folds away.
 */
function refuseBatchReshapes(g: Graph): void {
  if (!g.nodes.some((n) => isOnnxOp(n, 'Reshape'))) return;
  const shapes = inferShapes(g, { onError: 'unknown' }).values;
  const live = inputDependent(g);
  for (const n of g.nodes) {
    if (!isOnnxOp(n, 'Reshape') || !live.has(n.inputs[0]!)) continue;
    const from = shapes.get(n.inputs[0]!)?.shape?.[0];
    const to = shapes.get(n.outputs[0]!)?.shape?.[0];
    if (typeof from === 'number' && typeof to === 'number' && from !== to) throw new UnsupportedError(`Reshape that changes the batch dimension (${from} -> ${to}) in a Keras model`, `node '${n.name || n.outputs[0]}': Keras layers keep the batch`);
  }
}

/**
 * A Reshape target traced with the batch as a literal (PyTorch's `x.view(batch, groups, c, h, w)`
 * in ShuffleNet's channel shuffle exports [1, 2, 24, 28, 28]) copies the batch instead (0): with
 * the batch made free, a literal 1 would be a size-1 axis the layout pass may place anywhere
 * (it put it last, and the Keras Reshape then moved the batch). Only a Reshape of computed data
 * whose input's first dim is the free batch and whose target starts with the source's batch.
 */
function batchCopyingTargets(graph: Graph, batch: number): Graph {
  let g = constantNodesToInitializers(graph);
  const live = inputDependent(g);
  // each rewrite frees the batch of the Reshape's output, which may make the next one eligible
  for (;;) {
    const shapes = inferShapes(g, { onError: 'unknown' }).values;
    const n = g.nodes.find((n) => {
      if (!isOnnxOp(n, 'Reshape') || !live.has(n.inputs[0]!) || (n.attrs.allowzero && n.attrs.allowzero.value !== 0)) return false;
      const target = g.initializers.get(n.inputs[1] ?? '');
      return target?.shape.length === 1 && target.toNumbers()[0] === batch && shapes.get(n.inputs[0]!)?.shape?.[0] === 'batch';
    });
    if (!n) break;
    const dims = g.initializers.get(n.inputs[1]!)!.toNumbers();
    const name = `${n.name || n.outputs[0]!}/batch_copying_shape`;
    g = {
      ...g,
      initializers: new Map([...g.initializers, [name, Tensor.int64([dims.length], [0, ...dims.slice(1)])]]),
      nodes: g.nodes.map((m) => (m === n ? { ...m, inputs: [m.inputs[0]!, name, ...m.inputs.slice(2)] } : m)),
    };
  }
  return g;
}

export async function prepareForKeras(source: Graph, options: KerasPrepareOptions = {}): Promise<{ graph: Graph; transposes: KeptTranspose[]; notes: string[] }> {
  // PyTorch's nn.MultiheadAttention folds its heads into the batch: one Attention op (a Keras
  // MultiHeadAttention layer) where the pattern is exactly torch's, before that batch check
  const attention = fuseTorchAttention(source);
  // PyTorch's GroupNorm (Reshape -> InstanceNormalization -> Reshape -> affine): one GroupNormalization layer
  const groupNorm = fuseGroupNorm(attention.graph);
  const graph = groupNorm.graph;
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
  const sourceBatch = graph.inputs.find((v) => !graph.initializers.has(v.name) && !timeMajor.has(v.name) && typeof v.shape?.[0] === 'number')?.shape?.[0];
  if (typeof sourceBatch === 'number') g = batchCopyingTargets(g, sourceBatch);
  let transposes: KeptTranspose[] = [];
  let notes: string[] = [...timeMajor].map((v) => `input '${v}' is time-major [time, batch, ...]: the Keras model takes it batch-major [batch, time, ...] (Keras recurrent layers are batch-major), and its per-step outputs are batch-major too`);
  // ConvTranspose pads / output_padding / groups / dilation / 1-D as Keras layers express them
  // (and ceil-mode max pooling of a run-time size as floor mode over end pads, src/passes/ceil-pool-as-pads.ts;
  // not average pooling, whose divisor there is one tensor divided by another, which no Keras layer does)
  const convT = convTransposeAsValid(ceilPoolAsPads(g, { averages: false }), { target: 'Keras' });
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
  if (options.spreadDilatedDepthwise) {
    const r = spreadDilatedDepthwise(g);
    g = r.graph;
    notes = [...notes, ...r.notes];
  }
  if (groupNorm.fused.length) notes = [...notes, `${groupNorm.fused.length} PyTorch GroupNorm written as Keras GroupNormalization (${groupNorm.fused.map((f) => `${f.name}: ${f.groups} groups`).join(', ')}; tf.keras 2.11+ / Keras 3)`];
  if (attention.fused.length) notes = [...notes, `${attention.fused.length} PyTorch MultiheadAttention written as Keras MultiHeadAttention (${attention.fused.join(', ')})`];
  return { graph: g, transposes, notes };
}

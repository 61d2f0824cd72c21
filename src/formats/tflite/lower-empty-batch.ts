// Ops of a batch counted at run time (a detector's kept boxes: Mask R-CNN's mask RoiAlign, level
// merge and mask head run on as many boxes as NMS kept), after the layout pass, before the TFLite
// writer. An image with no detections makes that batch 0, and the interpreter (TFLite 2.x's web
// build, measured on one-op files against onnxruntime-node: test/formats/tflite/instance-empty.test.ts)
// traps ("RuntimeError: divide by zero") on two of the ops it meets:
//   CONV_2D of a batch of 0 (DEPTHWISE_CONV_2D and TRANSPOSE_CONV take it);
//   TRANSPOSE of a tensor of 0 rows whose permutation keeps axis 0 first ((0, 2, 3, 1), (0, 2, 1):
//     its Flatten divides the size by each leading unmoved dim; a permutation that moves axis 0,
//     and a 2-D one, take it);
//   BATCH_MATMUL of a batch of 0 (FULLY_CONNECTED, MAX_POOL_2D, AVERAGE_POOL_2D, SUM, CONCATENATION,
//     elementwise ops take it).
// Such an op's input gets one spare zero sample appended (a Pad of axis 0) and its output that
// sample sliced off again (y[0:-1]); exact, as every sample is computed on its own. The spare sample
// is carried through a chain of per-sample ops (convs, transposes keeping axis 0, activations,
// per-channel constants, pools) and sliced off once after it: the mask head's 4 convs, transposed
// conv, 1x1 conv and its transpose back to NCHW pad once and slice once, so in the non-empty case
// the cost is one more sample. A Transpose of a ConstantOfShape (the level merge's zeros laid out
// channels-last) becomes the ConstantOfShape of the permuted shape instead: nothing to transpose.
// A MatMul of two run-time batches pads both: they are taken to be the same count (NMS's kept boxes
// and values computed from them), not one of them 1 at run time, broadcast.
// Only a batch shape inference leaves unknown (null: a NonZero's or NMS's count, or its derived
// symbol where a Shape reads it) is padded; a symbolic batch the caller feeds (a graph input's
// named dim) is the caller's. Not in a quantized
// graph (a Pad between a QuantizeLinear and its DequantizeLinear would split an integer island).
import type { Graph, Node } from '../../ir/graph.js';
import { attrInts, callerDim } from '../../ir/graph.js';
import { inferShapes } from '../../ir/ops/index.js';
import { GraphRewriter } from '../../ir/rewriter.js';
import { Tensor } from '../../ir/tensor.js';

const isOnnx = (n: Node): boolean => n.domain === '' || n.domain === 'ai.onnx';
const isOnnxOrChannelsLast = (n: Node): boolean => isOnnx(n) || n.domain === 'nnport';

/** Ops that compute each sample from that sample alone (given constant other inputs): the spare sample passes through them. */
const PER_SAMPLE_UNARY = new Set(['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'HardSigmoid', 'HardSwish', 'Softplus', 'Clip', 'PRelu', 'Identity', 'BatchNormalization', 'MaxPool', 'AveragePool']);
const PER_SAMPLE_BINARY = new Set(['Add', 'Sub', 'Mul', 'Div']);

/** A Transpose that keeps axis 0 first and moves another (the interpreter's TRANSPOSE traps on it with 0 rows). */
const keepsAxis0 = (n: Node): boolean => {
  const perm = attrInts(n, 'perm', []);
  return perm.length >= 3 && perm[0] === 0 && perm.some((p, i) => p !== i);
};

export function padEmptyBatches(g: Graph): Graph {
  const triggers = (n: Node): boolean => isOnnxOrChannelsLast(n) && (n.opType === 'Conv' || (n.opType === 'Transpose' && isOnnx(n) && keepsAxis0(n)));
  const mayTrigger = (n: Node): boolean => triggers(n) || (n.opType === 'MatMul' && isOnnx(n));
  if (!g.nodes.some(mayTrigger) || g.nodes.some((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear')) return g;
  const values = inferShapes(g, { record: false, onError: 'unknown' }).values;
  const runTimeBatch = (v: string): boolean => {
    const s = values.get(v)?.shape;
    return !!s && s.length >= 3 && s[0] !== undefined && callerDim(s[0]) === null;
  };
  if (!g.nodes.some((n) => mayTrigger(n) && runTimeBatch(n.inputs[0]!))) return g;
  const opset = g.opsets[''] ?? g.opsets['ai.onnx'] ?? 16;
  const rw = new GraphRewriter(g);
  // a value of a run-time batch -> the same value with the spare zero sample appended
  const padded = new Map<string, string>();
  const isConstant = (v: string): boolean => !v || rw.constant(v) !== undefined;
  const shapeOf = (v: string): readonly (number | string | null)[] | undefined => rw.constant(v)?.shape ?? values.get(v)?.shape;
  const rankOf = (v: string): number => shapeOf(v)?.length ?? 0;
  /** A constant that broadcasts over the batch: of lower rank than the data, or of 1 row (a per-channel (1, 1, 1, C)). */
  const perSampleConstant = (v: string, x: string): boolean => !v || (isConstant(v) && (rankOf(v) < rankOf(x) || (rankOf(v) === rankOf(x) && shapeOf(v)![0] === 1)));

  const pad = (x: string): string => {
    const rank = rankOf(x);
    const pads = Array.from({ length: 2 * rank }, (_, i) => (i === rank ? 1 : 0));
    if (opset >= 11) return rw.add({ opType: 'Pad', name: `${x}/spare_sample`, inputs: [x, rw.addInitializer(`${x}/spare_sample_pads`, Tensor.int64([2 * rank], pads))] });
    return rw.add({ opType: 'Pad', name: `${x}/spare_sample`, inputs: [x], attrs: { pads: { type: 'ints', value: pads } } });
  };
  const sliceOff = (from: string, to: string): void => {
    const name = `${to}/without_spare_sample`;
    if (opset >= 10) rw.addNode({ opType: 'Slice', name, inputs: [from, ...[[0], [-1], [0]].map((v, i) => rw.addInitializer(`${to}/spare_${['starts', 'ends', 'axes'][i]}`, Tensor.int64([1], v)))], outputs: [to] });
    else rw.addNode({ opType: 'Slice', name, inputs: [from], attrs: { starts: { type: 'ints', value: [0] }, ends: { type: 'ints', value: [-1] }, axes: { type: 'ints', value: [0] } }, outputs: [to] });
  };
  /** `n` run on padded inputs instead (`inputs`: input index -> padded value): its output keeps its name, as the padded output less the spare sample. */
  const onPadded = (n: Node, inputs: ReadonlyMap<number, string>): void => {
    const y = n.outputs[0]!;
    const yp = rw.freshName(`${y}/with_spare_sample`);
    rw.replaceNode(n, { inputs: n.inputs.map((v, i) => inputs.get(i) ?? v), outputs: [yp] });
    sliceOff(yp, y);
    padded.set(y, yp);
  };

  for (const n of g.nodes) {
    if (!isOnnxOrChannelsLast(n) || n.outputs.length !== 1 || !n.inputs[0]) continue;
    const x = n.inputs[0];
    const others = n.inputs.slice(1);
    const fill = n.opType === 'Transpose' ? rw.producer(x) : undefined;
    if (fill && isOnnx(fill) && fill.opType === 'ConstantOfShape' && isOnnx(n) && keepsAxis0(n)) {
      // zeros laid out otherwise: the zeros of the permuted shape
      const perm = rw.addInitializer(`${n.name}/perm`, Tensor.int64([attrInts(n, 'perm', []).length], attrInts(n, 'perm', [])));
      const shape = rw.add({ opType: 'Gather', name: `${n.name}/permuted_shape`, inputs: [fill.inputs[0]!, perm], attrs: { axis: { type: 'int', value: 0 } } });
      rw.replaceNode(n, { opType: 'ConstantOfShape', inputs: [shape], attrs: fill.attrs });
      continue;
    }
    const xp = padded.get(x);
    if (triggers(n) && others.every(isConstant) && (xp || runTimeBatch(x))) {
      onPadded(n, new Map([[0, xp ?? pad(x)]]));
      continue;
    }
    const b = n.inputs[1];
    if (n.opType === 'MatMul' && isOnnx(n) && b && rankOf(x) >= 3 && (xp || runTimeBatch(x))) {
      // BATCH_MATMUL: of a constant that broadcasts over the batch, or of another run-time batch (taken to be the same count)
      if (isConstant(b) ? rankOf(b) >= 3 && perSampleConstant(b, x) : rankOf(b) === rankOf(x) && (padded.has(b) || runTimeBatch(b))) {
        onPadded(n, new Map(isConstant(b) ? [[0, xp ?? pad(x)]] : [[0, xp ?? pad(x)], [1, padded.get(b) ?? pad(b)]]));
        continue;
      }
    }
    if (!xp) continue;
    const perSample =
      // (a transposed conv of an explicit output_shape would name the batch's size too)
      (n.opType === 'ConvTranspose' && !n.attrs.output_shape && others.every(isConstant)) ||
      (n.opType === 'Transpose' && attrInts(n, 'perm', [])[0] === 0) ||
      (PER_SAMPLE_UNARY.has(n.opType) && others.every((v) => perSampleConstant(v, x))) ||
      (PER_SAMPLE_BINARY.has(n.opType) && isOnnx(n) && others.length === 1 && perSampleConstant(others[0]!, x)) ||
      // (a 2-D constant: FULLY_CONNECTED)
      (n.opType === 'MatMul' && isOnnx(n) && !!b && isConstant(b) && rankOf(b) === 2);
    if (perSample) onPadded(n, new Map([[0, xp]]));
  }
  rw.sweep();
  return rw.toGraph();
}

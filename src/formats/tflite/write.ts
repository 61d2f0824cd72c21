// IR -> TFLite flatbuffer. The graph is first made channels-last (the layout pass, TFLite
// weight layouts) and its constant subgraphs folded; then every node becomes TFLite builtin
// ops (ops-write.ts), Relu/Relu6/Relu1 are folded into the producing op's fused activation,
// and QDQ pairs collapse onto quantized tensors: a DequantizeLinear of a constant or of an
// op's integer output is the integer tensor itself (with scale/zero point), a QuantizeLinear
// after an op makes that op's output the integer tensor. What stays is QUANTIZE/DEQUANTIZE.
//
// File layout: buffer 0 empty, every constant's data 16-byte aligned; one subgraph; one
// SignatureDef 'serving_default'; metadata min_runtime_version; a description naming nnport.
// Models whose constants pass 2 GB keep the data after the flatbuffer (buffer offset/size).
import { Builder } from 'flatbuffers';
import type { DType } from '../../ir/dtypes.js';
import { GraphError, UnsupportedError } from '../../ir/errors.js';
import { attrFloat, attrInt, attrString, producersOf, readersOf, topologicalOrder, type Dim, type Graph, type Node } from '../../ir/graph.js';
import { inferShapes, opKey } from '../../ir/ops/index.js';
import { Tensor } from '../../ir/tensor.js';
import { castFloat } from '../../wasm/half.js';
import { batchNormAsAffine } from '../../passes/batchnorm-affine.js';
import { hardSigmoidAsRelu6 } from '../../passes/hard-sigmoid-relu6.js';
import { collapseTransposes } from '../../passes/collapse-transpose.js';
import { decomposeLayerNorm } from '../../passes/decompose-layernorm.js';
import { convTransposeAsValid, liftConvTranspose1d } from '../../passes/conv-transpose-valid.js';
import { ceilPoolAsPads } from '../../passes/ceil-pool-as-pads.js';
import { conv1dAs2d } from '../../passes/conv1d-as-2d.js';
import { foldBatchNorm } from '../../passes/fold-bn.js';
import { decodeHalfWeights, encodeHalfWeights, halfWeightsOf, isHalfWeightCast, widenHalfCompute } from '../../passes/float16-weights.js';
import { fuseBias } from '../../passes/fuse-bias.js';
import { constantNodesToInitializers, foldConstants } from '../../passes/fold-constants.js';
import { needsChannelsLast, toChannelsLast } from '../../passes/layout.js';
import { mapSubgraphs, someNodeDeep } from '../../passes/layout-subgraphs.js';
import { shapesComputedAtRunTime, TFLITE_RUN_TIME_OPERANDS, withDynamicDimsAt } from '../../passes/open-dims.js';
import { quantizeGraph, type QuantizeOptions } from '../../passes/quantize.js';
import { dequantizeAfterMoves } from '../../passes/qoperator-to-qdq.js';
import { createNodeEvaluator } from '../../runtime/evaluate.js';
import { ActivationFunctionType } from '../generated/tflite/activation-function-type.js';
import { Buffer as FbBuffer } from '../generated/tflite/buffer.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { Metadata } from '../generated/tflite/metadata.js';
import { Model } from '../generated/tflite/model.js';
import { Operator } from '../generated/tflite/operator.js';
import { OperatorCode } from '../generated/tflite/operator-code.js';
import { QuantizationParameters } from '../generated/tflite/quantization-parameters.js';
import { SignatureDef } from '../generated/tflite/signature-def.js';
import { SubGraph } from '../generated/tflite/sub-graph.js';
import { Tensor as FbTensor } from '../generated/tflite/tensor.js';
import { TensorMap } from '../generated/tflite/tensor-map.js';
import { TensorType } from '../generated/tflite/tensor-type.js';
import { fuseActivationPatterns } from '../../passes/fuse-activations.js';
import { TFLITE_WRITE_OPS, type WriteContext } from './ops-write.js';
import { dynamicSequenceNodes, fixRecurrentBatch, hybridRecurrentOps, recurrentQuantization, refusePinnedSequences } from './recurrent-write.js';
import { unrollForTflite } from './recurrent-unroll.js';
import { hasGridSample, lowerGridSample } from './lower-grid-sample.js';
import { hasCubicResize, lowerCubicResize } from './lower-cubic-resize.js';
import { lowerInt64Range } from './lower-int64-range.js';
import { hasRoiAlign, lowerRoiAlign } from './lower-roi-align.js';
import { padEmptyBatches } from './lower-empty-batch.js';
import { rowScattersAsScatterNd } from './lower-row-scatter.js';
import { lowerHighRank } from './lower-high-rank.js';
import { lowerConvTranspose3d } from './lower-conv-transpose3d.js';
import { lowerGroupedConv3d } from './lower-grouped-conv3d.js';
import { FLOAT_ONLY_WRITE_OPS, TFLITE_WRITE_MORE_OPS } from './ops-more-write.js';
import { FLOAT_ONLY_GAP_OPS, TFLITE_WRITE_GAP_OPS } from './ops-gap-write.js';
import { FLOAT_ONLY_GAP2_OPS, TFLITE_WRITE_GAP2_OPS, widenedInteger } from './ops-gap2-write.js';
import { keepDenseDims } from './write-dense-dims.js';
import { requantizeCopies } from './write-requantize.js';
import { TFLITE_WRITE_CONTROL_FLOW_OPS } from './write-control-flow.js';
import { int64IoAsInt32 } from '../../passes/int32-io.js';

export const NNPORT_VERSION = '0.1.0';

export interface TfliteWriteOptions {
  fileName?: string;
  /** keep constants after the flatbuffer (offset/size buffers) once their bytes pass this (default just under 2 GB) */
  largeModelThreshold?: number;
  /** keep NCHW inputs/outputs (a TRANSPOSE at each) when the layout pass runs */
  keepNchwIo?: boolean;
  /** int64 inputs / outputs (token ids, argmax) as int32 in the file, with a CAST inside (src/passes/int32-io.ts) */
  int32Io?: boolean;
  /** post-training quantization (float16, dynamic, int8 with calibration samples in the written model's input layout) */
  quantize?: QuantizeOptions;
  /**
   * prepareForTflite: keep float16 weights (a Cast of a float16 constant, as a float16 TFLite file
   * reads, or a float16 ONNX model's weights) float16 instead of folding them into float32
   * constants. writeTflite sets it when no `quantize` is asked for. The passes see them as float32
   * (re-laid, BatchNorm folded) and they are stored as float16 again at the end
   */
  keepFloat16Weights?: boolean;
  /**
   * dynamic range: ops whose int8 weights (named as in the graph) are read through a DEQUANTIZE by
   * float kernels instead of hybrid ones (TF's weight-only quantization); true: all of them.
   * Default: none; an op is hybrid when nnport::HybridInputQuantize marks its float input (what
   * quantizeGraph's dynamic mode puts there unless `dynamic: 'weight-only'`)
   */
  weightOnly?: boolean | ((weights: string) => boolean);
  /** op keys written in float even between DequantizeLinear and QuantizeLinear (the int16x8 float fallback) */
  floatOps?: ReadonlySet<string>;
}

export interface TfliteQuantParams {
  scale: number[];
  zeroPoint: number[];
  axis?: number;
}

export interface WTensor {
  name: string;
  dtype: DType;
  shape: number[];
  /** -1 where the dim is dynamic */
  signature?: number[];
  data?: Tensor;
  quant?: TfliteQuantParams;
  /** a float32 constant stored as float16 behind a DEQUANTIZE (it, or the weight it was laid out from, was float16 in the graph) */
  half?: boolean;
  /** a variable tensor (an SVDF / LSTM state): no buffer, is_variable set */
  variable?: boolean;
}

export interface WOp {
  code: BuiltinOperator;
  /** tensor names; '' for an omitted optional input */
  inputs: string[];
  outputs: string[];
  /** builds the options table; `act` is the fused activation (after fusion) */
  options?: (b: Builder, act: ActivationFunctionType) => [BuiltinOptions, number];
  /** this op has a fused_activation_function that a following RELU/RELU6/RELU_N1_TO_1 may fill */
  fusable?: boolean;
  act?: ActivationFunctionType;
  /** written for a node whose float input comes through nnport::HybridInputQuantize: may read int8 weights (a hybrid kernel) */
  hybrid?: boolean;
  /** the op's intermediate tensors (the integer LSTM's gate and hidden scales) */
  intermediates?: string[];
  /** its operator code's version where it is not 1 (TF's op_version.cc: e.g. a hybrid sequence op 2, with asymmetric_quantize_inputs 3) */
  version?: number;
  /** FULLY_CONNECTED: keep_num_dims, which its options read when written (keepDenseDims may set it) */
  keepNumDims?: boolean;
}

const TENSOR_TYPES: Partial<Record<DType, TensorType>> = {
  float32: TensorType.FLOAT32,
  float16: TensorType.FLOAT16,
  int32: TensorType.INT32,
  uint8: TensorType.UINT8,
  int64: TensorType.INT64,
  bool: TensorType.BOOL,
  int16: TensorType.INT16,
  int8: TensorType.INT8,
  float64: TensorType.FLOAT64,
  uint32: TensorType.UINT32,
  uint16: TensorType.UINT16,
};

const ACTIVATIONS: Partial<Record<BuiltinOperator, ActivationFunctionType>> = {
  [BuiltinOperator.RELU]: ActivationFunctionType.RELU,
  [BuiltinOperator.RELU6]: ActivationFunctionType.RELU6,
  [BuiltinOperator.RELU_N1_TO_1]: ActivationFunctionType.RELU_N1_TO_1,
};

/** The graph as the TFLite writer takes it: channels-last, constants folded, shapes known. */
export async function prepareForTflite(graph: Graph, options: TfliteWriteOptions = {}): Promise<Graph> {
  const evaluate = await createNodeEvaluator();
  // a float16 graph (float16 ONNX) computes in float32 in TFLite, its weights kept float16
  graph = widenHalfCompute(graph).graph;
  // float16 weights (Casts of float16 constants: a float16 TFLite file read, a float16 ONNX model)
  // are decoded for the passes below, which take plain constants (the layout pass, BatchNorm
  // folding, bias fusing), and stored as float16 again at the end unless another quantization follows
  const half = options.keepFloat16Weights ? halfWeightsOf(graph) : undefined;
  graph = decodeHalfWeights(graph).graph;
  // TFLite has no LayerNormalization op: its arithmetic, as TF's converter writes Keras' (decompose-layernorm.ts)
  graph = decomposeLayerNorm(graph).graph;
  // TFLite has no grid sampler: GridSample becomes GATHER_ND taps and their weights (lower-grid-sample.ts)
  graph = lowerGridSample(graph, options.fileName);
  // TFLite has no GRU builtin, and its LSTM / RNN compute sigmoid gates and one tanh or relu: a GRU, and
  // an LSTM / RNN with other activations, becomes its steps in plain ops (recurrent-unroll.ts)
  graph = unrollForTflite(fixRecurrentBatch(graph), options.quantize?.mode === 'int8');
  const dynamicSequences = dynamicSequenceNodes(graph);
  // kept If / Loop bodies (subgraphs of the file): the same arithmetic lowering and their constants folded before the layout pass lays them out with the main graph
  graph = mapSubgraphs(graph, (b) => constantNodesToInitializers(fold(decomposeLayerNorm(b).graph, evaluate)));
  let g = graph.nodes.some((n) => n.opType === 'Shape' || n.opType === 'Size') ? foldKeepingDynamicDims(graph, evaluate) : fold(graph, evaluate);
  // an LSTM / RNN in a kept loop body: TFLite's sequence ops keep their state in variable tensors, which a WHILE
  // carries from one iteration into the next (the file was right on the first trip only)
  const isSequenceOp = (n: Node) => (n.opType === 'LSTM' || n.opType === 'RNN') && (n.domain === '' || n.domain === 'ai.onnx');
  const loopWithState = (n: Node) => (n.opType === 'Loop' || n.opType === 'Scan') && n.attrs.body?.type === 'graph' && someNodeDeep(n.attrs.body.value, isSequenceOp);
  if (someNodeDeep(g, loopWithState)) {
    const loop = g.nodes.find(loopWithState);
    throw new UnsupportedError('an LSTM / RNN inside a kept Loop body in a TFLite file', `${loop ? `node '${loop.name}': ` : ''}TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM / _RNN keep their state in variable tensors, which a WHILE carries from one iteration into the next`);
  }
  // nor CropAndResize: RoiAlign's sample points become GATHER_ND rows of a run-time box count (lower-roi-align.ts; after the
  // fold, which settles the shapes of a detector's box decoding)
  g = lowerRoiAlign(g, options.fileName);
  // nor a bicubic resize: each resized axis becomes 4 GATHER taps and their cubic weights, computed from sizes known at run time or folded (lower-cubic-resize.ts)
  g = lowerCubicResize(g, options.fileName ?? 'the model', (x) => constantNodesToInitializers(fold(x, evaluate)));
  // TFLite's RANGE takes no int64: an int64 Range of bounds known to fit int32 (torch.arange of a count) becomes an int32 one and a Cast (lower-int64-range.ts)
  g = lowerInt64Range(g);
  // (and MultiScaleRoIAlign scatters its levels back row by row: ScatterND of the rows, lower-row-scatter.ts)
  g = rowScattersAsScatterNd(g);
  // ConvTranspose padding TRANSPOSE_CONV lacks: VALID + a crop (SAME kept where it is exact)
  g = convTransposeAsValid(ceilPoolAsPads(g), { keepSame: true, target: 'TFLite', volumetric: true }).graph;
  // (a reshape the layout pass puts after a DequantizeLinear moves before it: a QDQ graph's islands stay whole)
  if (needsChannelsLast(g)) g = dequantizeAfterMoves(liftConvTranspose1d(fold(toChannelsLast(g, { target: 'tflite', keepNchwIo: options.keepNchwIo }).graph, evaluate)).graph).graph;
  // a graph already channels-last (a Keras Conv1DTranspose read as is) still needs its 1-D ConvTranspose lifted
  else g = liftConvTranspose1d(g).graph;
  // a separate bias Add becomes the CONV_2D / TRANSPOSE_CONV / FULLY_CONNECTED bias, as the TF
  // converter writes it (an N-D dense layer's too: Reshape -> Gemm -> Reshape, one FULLY_CONNECTED with keep_num_dims); TFLite has no BatchNorm op, and its converter folds BN into the conv the same way
  // (a BN no weight absorbs: MUL + ADD by per-channel constants, as TF's converter writes it)
  g = fuseActivationPatterns(batchNormAsAffine(foldBatchNorm(fuseBias(constantNodesToInitializers(g), { ndDense: true }).graph).graph).graph);
  // TFLite's CONV_3D has no groups, nor has it a depthwise 3-D conv: a depthwise one becomes DEPTHWISE_CONV_2D per temporal tap, summed;
  // another grouped one a CONV_3D per group (lower-grouped-conv3d.ts; after BatchNorm folding, which folds into the 3-D conv)
  // (and with integer activations every 3-D Conv, CONV_3D being float32 only, becomes 2-D conv taps)
  const integer = options.quantize?.mode === 'int8' || options.quantize?.mode === 'int16x8';
  g = lowerGroupedConv3d(g, { integer });
  // (and CONV_3D_TRANSPOSE, float32 only too: a 3-D ConvTranspose becomes TRANSPOSE_CONV taps, interleaved by phase, lower-conv-transpose3d.ts)
  if (integer) g = lowerConvTranspose3d(g);
  g = mapSubgraphs(g, (b) => collapseTransposes(conv1dAs2d(fuseActivationPatterns(batchNormAsAffine(foldBatchNorm(fuseBias(constantNodesToInitializers(fold(b, evaluate)), { ndDense: true }).graph).graph).graph)).graph, 5).graph);
  // quantized: a HardSigmoid left alone is ReLU6(6αx + 6β) / 6, as Keras' MobileNetV3 writes it (TFLite's integer kernels clip only as ReLU / ReLU6 / ReLU1)
  if (options.quantize && options.quantize.mode !== 'float16' && options.quantize.mode !== 'dynamic') g = hardSigmoidAsRelu6(g).graph;
  // TFLite has no 1-D conv or pool: EXPAND_DIMS -> the 2-D op -> SQUEEZE, as TF's converter writes them
  g = conv1dAs2d(g).graph;
  // TFLite runtimes before 2.11 load no TRANSPOSE above rank 5: a 6-D one (Swin's windows) collapses to its runs
  g = collapseTransposes(g, 5).graph;
  // nor other ops above their kernels' ranks (a broadcasting ADD above 4-D aborts its builtin kernel): their alike axes merged, or refused by name (lower-high-rank.ts)
  // (a float graph quantized here has the limits of the mode; a QDQ graph, a pre-quantized model, those of its QuantizeLinears' type)
  g = lowerHighRank(g, { activations: options.quantize?.mode === 'int8' ? 'int8' : options.quantize?.mode === 'int16x8' ? 'int16' : undefined, fileName: options.fileName });
  // the interpreter's CONV_2D and TRANSPOSE trap on a batch of 0 (a detector that found nothing): those of a batch counted at run time get a spare zero sample (lower-empty-batch.ts)
  g = padEmptyBatches(g);
  // every weight of a float16 model float16 again (rounding a folded BatchNorm's as TF's float16
  // mode would); a model that also had float32 weights gets float16 back only where it is exact
  if (half?.half) g = encodeHalfWeights(g, half.float32 ? 'exact' : 'all').graph;
  refusePinnedSequences(g, dynamicSequences);
  return g;
}

type Evaluator = Awaited<ReturnType<typeof createNodeEvaluator>>;

/**
 * Shape subgraphs over a dynamic dim (`x.view(x.size(0), -1)`) cannot fold into constants as
 * they are. The graph is folded twice, every dynamic dim set to 1 and to 7: a Reshape target
 * that differs between the two in one entry follows the dynamic dim there, and that entry
 * becomes -1 (TFLite's RESHAPE infers it at run time), so the model keeps its dynamic dims
 * (-1 in shape_signature). Else, where every value computed from a dynamic dim ends in an
 * operand TFLite takes as a tensor (a Resize's sizes, a Pad's pads, a Slice's bounds, a Reshape's target: a UNet decoder upsampling to its skip's size, a pad to a multiple of 32), the graph is
 * folded with the dims left open and those shape subgraphs run in the file (foldWithOpenDims).
 * When anything else is computed from a dynamic dim (an Expand shape...) the model is written
 * for dim 1, with no -1 in shape_signature.
 */
function foldKeepingDynamicDims(g: Graph, evaluate: Evaluator): Graph {
  const dynamic = g.inputs.some((v) => v.shape?.some((d) => typeof d !== 'number'));
  const at = (k: number): Graph => constantNodesToInitializers(fold(withDynamicDimsAt(g, k), evaluate));
  const one = at(1);
  if (!dynamic) return one;
  const seven = at(7);
  const open = constantNodesToInitializers(fold(g, evaluate));
  const byTargets = foldByTargets(g, one, seven);
  return (byTargets && keepsOpenDims(byTargets, open) ? byTargets : undefined) ?? foldWithOpenDims(open, one, seven) ?? one;
}

/**
 * Whether each Reshape of `byTargets` leaves open as many of its output's dims as the graph folded with
 * the dims open infers: a dim that is 1 at both 1 and 7 (a height after five stride-2 convs, a
 * ShuffleNet's channel shuffle) yet follows the input would otherwise be fixed at 1.
 */
function keepsOpenDims(byTargets: Graph, open: Graph): boolean {
  const openDims = (shape: readonly Dim[] | undefined): number => (shape ? shape.filter((d) => typeof d !== 'number').length : Infinity);
  const mine = inferShapes(byTargets, { record: false, onError: 'unknown' }).values;
  const theirs = inferShapes({ ...open, valueInfo: undefined }, { record: false, onError: 'unknown' }).values;
  return byTargets.nodes.every((n) => n.opType !== 'Reshape' || !!n.domain || !theirs.has(n.outputs[0]!) || openDims(theirs.get(n.outputs[0]!)!.shape) <= openDims(mine.get(n.outputs[0]!)?.shape));
}

/** foldKeepingDynamicDims' first way: the folds at 1 and 7 differ only in Reshape targets (one entry each) and Resize sizes that scale with the input. */
function foldByTargets(g: Graph, one: Graph, seven: Graph): Graph | undefined {
  const sameNodes =
    one.nodes.length === seven.nodes.length &&
    one.nodes.every((n, i) => {
      const m = seven.nodes[i]!;
      return n.opType === m.opType && n.inputs.join('\0') === m.inputs.join('\0') && n.outputs.join('\0') === m.outputs.join('\0');
    });
  if (!sameNodes || g.outputs.some((o) => one.initializers.has(o.name))) return undefined;
  const sameTensor = (a: Tensor, b: Tensor) => a.dtype === b.dtype && a.shape.join() === b.shape.join() && a.bytes().every((v, i) => v === b.bytes()[i]);
  const initializers = new Map(one.initializers);
  let shapes1: ReturnType<typeof inferShapes>['values'] | undefined;
  let shapes7: ReturnType<typeof inferShapes>['values'] | undefined;
  const rewired = new Map<Node, Node>();
  for (const n of one.nodes) {
    for (const [k, name] of n.inputs.entries()) {
      const a = one.initializers.get(name);
      const b = seven.initializers.get(name);
      if (!a && !b) continue;
      if (!a || !b) return undefined;
      if (sameTensor(a, b)) continue;
      const resizeSizes = n.opType === 'Resize' && k === 3;
      if ((n.opType !== 'Reshape' || k !== 1) && !resizeSizes) return undefined;
      if (n.domain && !resizeSizes) return undefined;
      // the output shapes at 1 and 7 (a -1 or 0 already in the target resolved): the one dim that moves becomes -1
      const s1 = (shapes1 ??= inferShapes(one).values).get(n.outputs[0]!)?.shape;
      const s7 = (shapes7 ??= inferShapes(seven).values).get(n.outputs[0]!)?.shape;
      if (!s1 || !s7 || s1.length !== s7.length || s1.some((d) => typeof d !== 'number')) return undefined;
      if (resizeSizes) {
        // sizes that follow the dynamic dims (the batch) where the input's do: the same resize as scales
        const in1 = shapes1.get(n.inputs[0]!)?.shape;
        const in7 = shapes7.get(n.inputs[0]!)?.shape;
        if (!in1 || !in7 || in1.some((d) => typeof d !== 'number') || !s1.every((d, i) => (d === s7[i] ? in1[i] === in7[i] : d === in1[i] && s7[i] === in7[i]))) return undefined;
        const scales = s1.map((d, i) => Math.fround((d as number) / (in1[i] as number)));
        if (!scales.every((sc, i) => Math.floor((in1[i] as number) * sc) === s1[i])) return undefined;
        let scalesName = `${name}/scales`;
        for (let i = 1; initializers.has(scalesName); i++) scalesName = `${name}/scales_${i}`;
        initializers.set(scalesName, Tensor.float32([scales.length], scales));
        rewired.set(n, { ...n, inputs: n.inputs.map((v, i) => (i === 2 ? scalesName : i === 3 ? '' : v)) });
        continue;
      }
      const differ = s1.flatMap((d, j) => (d !== s7[j] ? [j] : []));
      if (differ.length !== 1) return undefined;
      // 0 (copy the input's dim) where the input's dim there is the dynamic one: the dim keeps its symbol
      const in1 = shapes1.get(n.inputs[0]!)?.shape;
      const in7 = shapes7.get(n.inputs[0]!)?.shape;
      const j = differ[0]!;
      const copy = !!in1 && !!in7 && j < in1.length && in1[j] === s1[j] && in7[j] === s7[j];
      initializers.set(name, Tensor.int64([s1.length], s1.map((d, i) => (i === j ? (copy ? 0 : -1) : (d as number)))));
    }
  }
  // value annotations of the dim-1 fold would pin the dims again: shapes are inferred afresh
  const nodes = one.nodes.map((n) => rewired.get(n) ?? n);
  const read = new Set(nodes.flatMap((n) => n.inputs));
  for (const k of [...initializers.keys()]) if (!read.has(k) && !one.initializers.has(k)) initializers.delete(k);
  return { ...one, nodes, inputs: g.inputs.map((v) => ({ ...v })), outputs: g.outputs.map((v) => ({ ...v })), valueInfo: undefined, initializers };
}

/**
 * The graph folded with its dynamic dims left open, its Shape subgraphs running in the file, where
 * src/passes/open-dims.ts says they may (checked against the folds at 1 and at 7); else undefined.
 */
function foldWithOpenDims(open: Graph, one: Graph, seven: Graph): Graph | undefined {
  // value annotations of the first fold would pin the dims: shapes are inferred afresh
  return shapesComputedAtRunTime(open, [one, seven], TFLITE_RUN_TIME_OPERANDS) ? { ...open, valueInfo: undefined } : undefined;
}

/**
 * Constant folding that leaves integer constants read through DequantizeLinear alone (they
 * become quantized tensors): they are hidden from the pass as if they were inputs.
 */
function fold(g: Graph, evaluate: Evaluator): Graph {
  const hidden = new Set(g.nodes.filter((n) => n.opType === 'DequantizeLinear' && !n.domain && g.initializers.has(n.inputs[0]!)).map((n) => n.inputs[0]!));
  const kept = new Map([...g.initializers].filter(([k]) => hidden.has(k)));
  const visible: Graph = {
    ...g,
    inputs: [...g.inputs, ...[...kept].map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape] }))],
    initializers: new Map([...g.initializers].filter(([k]) => !hidden.has(k))),
  };
  const folded = foldConstants(visible, { evaluate }).graph;
  return { ...folded, inputs: folded.inputs.filter((v) => !hidden.has(v.name)), initializers: new Map([...folded.initializers, ...kept]) };
}

/**
 * Ops TFLite's kernels run with 16-bit activations and 8-bit weights (the 16x8 op list), as
 * IR op keys of the prepared graph. Anything else in an int16x8 model is refused up front.
 */
const INT16X8_OPS = new Set([
  'nnport::Conv', 'nnport::ConvTranspose', 'Gemm', 'MatMul', 'Add', 'Sub', 'Mul', 'nnport::AveragePool', 'nnport::MaxPool', 'nnport::GlobalAveragePool', 'nnport::GlobalMaxPool',
  'ReduceMean', 'ReduceMax', 'Softmax', 'Sigmoid', 'Tanh', 'Relu', 'Clip', 'LeakyRelu', 'Max', 'Min', 'Concat', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze',
  'Identity', 'Dropout', 'Transpose', 'Pad', 'Slice', 'Split', 'Gather', 'Resize', 'nnport::Resize',
]);

/** A kept If / Loop (an IF / WHILE subgraph of the file). */
const isControlFlow = (n: Node): boolean => n.opType in TFLITE_WRITE_CONTROL_FLOW_OPS && (n.domain === '' || n.domain === 'ai.onnx');

/** A full-int8 graph (QDQ) with an int8 PRELU above rank 4 is refused (the interpreter's int8 PRELU broadcasts in 4-D only: it aborts). */
function refuseWithoutInt8Kernel(g: Graph, fileName?: string): void {
  const quantized = new Set(g.nodes.filter((n) => n.opType === 'QuantizeLinear' && !n.domain).map((n) => n.inputs[0]));
  // a Range's length follows its start / limit / delta exactly: read through int8 rounding it can change
  const dequantized = new Set(g.nodes.filter((n) => n.opType === 'DequantizeLinear' && !n.domain).map((n) => n.outputs[0]));
  const range = g.nodes.find((n) => opKey(n) === 'Range' && n.inputs.some((i) => dequantized.has(i)));
  if (range) throw new UnsupportedError('Range of quantized start / limit / delta', `node '${range.name}' in ${fileName ?? 'the model'}: its length would follow the rounded values; use --quantize dynamic or float16`);
  // so would a kept Loop's trip count computed from quantized values (a Range expanded into a Loop)
  const producer = producersOf(g.nodes);
  const fromDequantized = (v: string, seen = new Set<string>()): boolean => {
    if (!v || seen.has(v)) return false;
    seen.add(v);
    const p = producer.get(v);
    // (a Shape / Size reads no values: a recurrent layer's Loop over x's run-time length, recurrent-to-loop.ts)
    if (p && !p.domain && (p.opType === 'Shape' || p.opType === 'Size')) return false;
    return !!p && ((p.opType === 'DequantizeLinear' && !p.domain && !g.initializers.has(p.inputs[0]!)) || p.inputs.some((i) => fromDequantized(i, seen)));
  };
  const counted = g.nodes.find((n) => n.opType === 'Loop' && !n.domain && fromDequantized(n.inputs[0] ?? ''));
  if (counted) throw new UnsupportedError('Loop trip count computed from quantized values', `node '${counted.name}' in ${fileName ?? 'the model'}: its number of iterations would follow the rounded values; use --quantize dynamic or float16`);
  const prelu = g.nodes.filter((n) => opKey(n) === 'PRelu' && quantized.has(n.outputs[0]));
  if (!prelu.length) return;
  const shapes = inferShapes(g).values;
  if (prelu.some((n) => (shapes.get(n.outputs[0]!)?.shape?.length ?? 0) > 4)) throw new UnsupportedError('PRelu above rank 4 with int8 activations', `TFLite's int8 PRELU broadcasts in 4-D only (${fileName ?? 'the model'}); use --quantize dynamic or float16`);
}

export async function writeTflite(graph: Graph, options: TfliteWriteOptions = {}): Promise<Uint8Array> {
  if (options.int32Io) graph = int64IoAsInt32(graph).graph;
  // (before prepareForTflite unrolls the GRUs)
  if (options.quantize) recurrentQuantization(graph, options.quantize);
  // its sampling coordinates rounded to 8 / 16 bits would move every tap: float16 and dynamic (float activations) only
  const mode = options.quantize?.mode;
  if ((mode === 'int8' || mode === 'int16x8') && hasGridSample(graph)) throw new UnsupportedError(`GridSample with ${mode === 'int8' ? 'int8' : '16-bit'} activations in a TFLite file`, `${options.fileName ?? 'the model'}: its sampling coordinates would be rounded to the activations' integer steps; use --quantize dynamic or float16`);
  if ((mode === 'int8' || mode === 'int16x8') && hasRoiAlign(graph)) throw new UnsupportedError(`RoiAlign with ${mode === 'int8' ? 'int8' : '16-bit'} activations in a TFLite file`, `${options.fileName ?? 'the model'}: its box and sample coordinates would be rounded to the activations' integer steps; use --quantize dynamic or float16`);
  if ((mode === 'int8' || mode === 'int16x8') && hasCubicResize(graph)) throw new UnsupportedError(`Resize cubic with ${mode === 'int8' ? 'int8' : '16-bit'} activations in a TFLite file`, `${options.fileName ?? 'the model'}: its taps' weights (and coordinates, at run-time sizes) would be rounded to the activations' integer steps; use --quantize dynamic or float16`);
  // kept If / Loop (IF / WHILE subgraphs): every quantization reaches their bodies (int8 / int16x8: a float body boundary, quantize.ts toInt8WithBodies)
  const controlFlow = graph.nodes.some(isControlFlow);
  // a float16 model written again keeps its float16 weights unless another quantization is asked for
  let g = await prepareForTflite(graph, { ...options, keepFloat16Weights: options.keepFloat16Weights ?? !options.quantize });
  let floatOps: Set<string> | undefined;
  if (options.quantize?.mode === 'int16x8') {
    // (a reflect Pad is MIRROR_PAD: the interpreter has no 16-bit kernel, it fails at invoke)
    // (ADD / SUB / MUL broadcasting above rank 4: the interpreter aborts, pytorch-converted test_BatchNorm3d_eval)
    const shapes = inferShapes(g).values;
    const rankOf = (v: string | undefined) => (v ? (g.initializers.get(v)?.shape ?? shapes.get(v)?.shape) : undefined);
    const broadcast5d = (n: Node) => ['Add', 'Sub', 'Mul'].includes(opKey(n)) && (rankOf(n.outputs[0])?.length ?? 0) > 4 && n.inputs.some((i) => rankOf(i)?.join() !== rankOf(n.outputs[0])?.join());
    // with kept If / Loop: the IF / WHILE pass float values (their bodies quantize at their edges), and the ops of their
    // bodies are checked too; an op that computes no float value (a loop's counter, a condition) needs no 16x8 kernel there
    const floatOut = (n: Node, types: ReadonlyMap<string, { dtype?: string }>) => !controlFlow || n.outputs.some((o) => types.get(o)?.dtype === 'float32');
    const checked = g.nodes.filter((n) => !isControlFlow(n) && floatOut(n, shapes));
    if (controlFlow) {
      mapSubgraphs(g, (b) => {
        const types = inferShapes(b, { record: false, onError: 'unknown' }).values;
        checked.push(...b.nodes.filter((n) => !isControlFlow(n) && floatOut(n, types)));
        return b;
      });
    }
    const missing = [...new Set(checked.map((n) => (opKey(n) === 'Pad' && attrString(n, 'mode', 'constant') !== 'constant' ? 'Pad (reflect)' : broadcast5d(n) ? `${opKey(n)} (broadcast above rank 4)` : opKey(n))).filter((k) => !INT16X8_OPS.has(k)))];
    // with the float fallback (the TF converter's TFLITE_BUILTINS next to the 16x8 set) they stay float: DEQUANTIZE, op, QUANTIZE
    if (missing.length && !options.quantize.floatFallback) throw new UnsupportedError(`${missing.map((k) => k.replace('nnport::', '')).join(', ')} with 16-bit activations (int16x8)`, `TFLite has no 16x8 kernel for ${missing.length > 1 ? 'these ops' : 'this op'} in ${options.fileName ?? 'the model'}; use --quantize int8 or dynamic, or --allow-float-fallback`);
    if (missing.length) floatOps = new Set(missing.map((k) => k.replace(/ \(.*\)$/, '')));
  }
  // an input with an initializer (older ONNX lists weights as inputs too) is a constant: quantization
  // below replaces the initializer (float16: a Cast of a float16 one), and it must not become a runtime input
  g = { ...g, inputs: g.inputs.filter((v) => !g.initializers.has(v.name)) };
  if (options.quantize) g = hybridRecurrentOps((await quantizeGraph(g, options.quantize)).graph, options.quantize);
  // float16: the weights of kept If / Loop bodies too (float16 buffers + DEQUANTIZE in their subgraphs)
  if (options.quantize?.mode === 'float16') g = mapSubgraphs(g, (b) => encodeHalfWeights(b, 'all').graph);
  if (options.quantize?.mode === 'int8') refuseWithoutInt8Kernel(g, options.fileName);
  return serializeTflite(g, floatOps ? { ...options, floatOps } : options);
}

/** One SubGraph of the file: its tensors and operators, its inputs and outputs by tensor name. */
export interface WSubgraph {
  name: string;
  tensors: Map<string, WTensor>;
  ops: WOp[];
  inputs: string[];
  outputs: string[];
}

/** Channels-last, folded graph -> bytes (no passes run). Control-flow bodies (IF / WHILE) become more subgraphs after the main one. */
export function serializeTflite(graph: Graph, options: TfliteWriteOptions = {}): Uint8Array {
  const subgraphs: WSubgraph[] = [];
  convertSubgraph(graph, options, subgraphs);
  return serialize(subgraphs, graph, options);
}

/** `graph` converted into subgraphs[index] (its inputs are the subgraph's inputs, in order); its bodies appended after it. Returns index. */
function convertSubgraph(graph: Graph, options: TfliteWriteOptions, subgraphs: WSubgraph[]): number {
  const index = subgraphs.length;
  subgraphs.push({ name: graph.name, tensors: new Map(), ops: [], inputs: [], outputs: [] });
  const file = options.fileName ?? '<output>';
  // float16 weights (Cast of a float16 constant): written as TFLite's float16 models are, each
  // such constant (and what the writer lays out from it) stored as float16 behind a DEQUANTIZE
  const halfCasts = graph.nodes.filter((n) => isHalfWeightCast(graph, n));
  const halfValues = new Set(halfCasts.map((n) => n.outputs[0]!));
  let g = graph;
  if (halfCasts.length) {
    const initializers = new Map(g.initializers);
    for (const n of halfCasts) initializers.set(n.outputs[0]!, castFloat(initializers.get(n.inputs[0]!)!, 'float32'));
    g = { ...g, nodes: g.nodes.filter((n) => !halfCasts.includes(n)), initializers };
  }
  g = splitOutputDequantize(g);
  const shapes = inferShapes(g).values;
  const tensors = new Map<string, WTensor>();
  const ops: WOp[] = [];
  // the names taken: values, and the constants something reads. A constant nothing reads is not
  // written, so its name is free (a file read back keeps the constants its reader replaced -- PAD's
  // int32 paddings, a depthwise weight before its HWIO reshape -- and the constants written for the
  // same ops then get the file's names again)
  const used = new Set<string>([...g.inputs.map((v) => v.name), ...g.outputs.map((v) => v.name)]);
  for (const n of g.nodes) for (const v of [...n.inputs, ...n.outputs]) if (v) used.add(v);

  // ---- QDQ folding: which float values are really a quantized tensor ----
  // (IF / WHILE pass float values: their bodies quantize and dequantize at their own edges)
  const { alias, quantOf, skip } = collapseQdq(g, shapes, new Set([...(options.floatOps ?? []), ...FLOAT_ONLY_WRITE_OPS, ...FLOAT_ONLY_GAP_OPS, ...FLOAT_ONLY_GAP2_OPS, ...Object.keys(TFLITE_WRITE_CONTROL_FLOW_OPS)]));
  const hybridInputs = new Map(g.nodes.filter((n) => n.domain === 'nnport' && n.opType === 'HybridInputQuantize').map((n) => [n.outputs[0]!, n]));
  const resolve = (name: string): string => {
    let v = name;
    for (let i = 0; alias.has(v) && i < 8; i++) v = alias.get(v)!;
    return v;
  };

  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; used.has(name) || tensors.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };

  const dimsOf = (name: string): { shape: number[]; signature?: number[]; dtype: DType } => {
    const t = g.initializers.get(name);
    if (t) return { shape: [...t.shape], dtype: t.dtype };
    const v = shapes.get(name);
    if (!v || !v.dtype || !v.shape) {
      // a TFLite tensor needs a rank: an input of unknown rank (a TF Placeholder without shape) is given one by the user
      const hint = g.inputs.some((i) => i.name === name) ? ` (an input of unknown rank: give --input-shape ${name}=d0,d1,...)` : '';
      throw new UnsupportedError(`TFLite output of a value with unknown shape`, `'${name}' in ${file}: its shape could not be inferred${hint}`);
    }
    const dyn = v.shape.some((d) => typeof d !== 'number');
    const shape = v.shape.map((d: Dim) => (typeof d === 'number' ? d : 1));
    return { shape, signature: dyn ? v.shape.map((d: Dim) => (typeof d === 'number' ? d : -1)) : undefined, dtype: v.dtype };
  };

  const read = new Set([...g.nodes.flatMap((n) => n.inputs), ...g.outputs.map((v) => v.name)]);
  const ctx: WriteContext = {
    file,
    isRead(name) {
      return read.has(name);
    },
    tensor(name) {
      if (!name) return '';
      const r = resolve(name);
      if (!tensors.has(r)) {
        const d = dimsOf(r);
        const data = g.initializers.get(r);
        tensors.set(r, { name: r, dtype: d.dtype, shape: d.shape, signature: d.signature, data, quant: quantOf.get(r), half: halfValues.has(r) || undefined });
      }
      return r;
    },
    info(name) {
      return tensors.get(ctx.tensor(name))!;
    },
    constantOf(name) {
      return g.initializers.get(resolve(name));
    },
    isQuantized(name) {
      return quantOf.has(resolve(name));
    },
    hybridInputSymmetric(name) {
      const n = hybridInputs.get(name);
      return n ? attrIntOf(n, 'symmetric') === 1 : undefined;
    },
    addConstant(base, t, quant, from) {
      const name = fresh(base);
      const half = !!from && t.dtype === 'float32' && tensors.get(resolve(from))?.half;
      tensors.set(name, { name, dtype: t.dtype, shape: [...t.shape], data: t, quant, half: half || undefined });
      return name;
    },
    addTensor(base, like) {
      const name = fresh(base);
      tensors.set(name, { ...like, name, data: undefined });
      return name;
    },
    emit(op) {
      ops.push(op);
    },
    shapeOf(name) {
      return ctx.info(name).shape;
    },
    addSubgraph(body) {
      return convertSubgraph(body, options, subgraphs);
    },
  };

  for (const n of topologicalOrder(g)) {
    if (skip.has(n)) continue;
    const key = opKey(n);
    const convert = widenedInteger(n, ctx) ?? TFLITE_WRITE_OPS[key] ?? TFLITE_WRITE_MORE_OPS[key] ?? TFLITE_WRITE_GAP_OPS[key] ?? TFLITE_WRITE_GAP2_OPS[key] ?? TFLITE_WRITE_CONTROL_FLOW_OPS[key];
    if (!convert) throw new UnsupportedError(`op ${n.domain ? `${n.domain}.` : ''}${n.opType} in a TFLite file`, `node '${n.name}' has no TFLite builtin counterpart in nnport's writer`);
    const first = ops.length;
    convert(n, ctx);
    // the marker before an op's float input is what makes it hybrid; without one its int8
    // weights are read through a DEQUANTIZE (dequantizeWeightOnly)
    if (n.inputs[0] && hybridInputs.has(n.inputs[0])) for (let k = first; k < ops.length; k++) ops[k]!.hybrid = true;
  }
  // graph outputs that are aliases or pass-throughs
  const inputNames = g.inputs.filter((v) => !g.initializers.has(v.name)).map((v) => ctx.tensor(v.name));
  const outputNames = g.outputs.map((v) => ctx.tensor(v.name));

  refuseKernelTypes(tensors, ops, file);
  // (before the activations fuse: a RELU after the RESHAPE back then follows the FULLY_CONNECTED; and after: a file
  // read back has FULLY_CONNECTED -> RELU -> RESHAPE, the RELU fused here)
  keepDenseDims(tensors, ops, new Set(outputNames));
  fuseActivations(ops, new Set(outputNames));
  keepDenseDims(tensors, ops, new Set(outputNames));
  requantizeCopies(tensors, ops);
  widenInt16x8Biases(tensors, ops);
  const weightOnly = options.weightOnly ?? false;
  dequantizeWeightOnly(tensors, ops, typeof weightOnly === 'function' ? weightOnly : () => weightOnly);
  if (halfCasts.length) storeAsFloat16(tensors, ops);
  subgraphs[index] = { name: g.name || (index ? `subgraph_${index}` : 'main'), tensors, ops, inputs: inputNames, outputs: outputNames };
  return index;
}

const HYBRID = new Set(['nnport::Conv', 'nnport::ConvTranspose', 'Gemm', 'MatMul']);

/**
 * A DequantizeLinear whose value is a graph output and is read inside the graph too (a feature map
 * returned beside the logits): its readers get a DequantizeLinear of their own, so that collapseQdq
 * lets them read the integer tensor while the output keeps its DEQUANTIZE (else they read the float
 * output: a CONV_2D of float input and int8 weights, which the interpreter cannot initialize).
 */
function splitOutputDequantize(g: Graph): Graph {
  const outputs = new Set(g.outputs.map((v) => v.name));
  const readers = readersOf(g.nodes);
  const names = new Set([...g.nodes.flatMap((n) => [...n.inputs, ...n.outputs]), ...g.initializers.keys()]);
  const rename = new Map<string, string>();
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    nodes.push(n);
    const o = n.outputs[0]!;
    if (n.opType !== 'DequantizeLinear' || n.domain || !outputs.has(o) || !(readers.get(o) ?? []).length) continue;
    let read = `${o}/read`;
    for (let k = 1; names.has(read); k++) read = `${o}/read_${k}`;
    names.add(read);
    rename.set(o, read);
    nodes.push({ ...n, name: `${n.name || o}/read`, outputs: [read] });
  }
  if (!rename.size) return g;
  return { ...g, nodes: nodes.map((n) => (n.opType === 'DequantizeLinear' && rename.has(n.outputs[0]!) ? n : { ...n, inputs: n.inputs.map((i) => (i && rename.get(i)) || i) })) };
}

/**
 * TFLite's int8 / int16 ADD, SUB, MUL and PRELU read each operand with one scale: an operand a DequantizeLinear
 * gives per axis (a per-channel constant of a pre-quantized model) makes the op float between DEQUANTIZE and
 * QUANTIZE, as the QDQ graph computes it (written int8, ADD / SUB aborted the interpreter and MUL / PRELU read
 * the codes with one channel's scale, 137 output steps off onnxruntime: int8-per-axis-operands.test.ts).
 */
const PER_TENSOR_OPERANDS: ReadonlySet<string> = new Set(['Add', 'Sub', 'Mul', 'PRelu']);

/**
 * The data operands (indices) of ops whose int8 / int16 kernel reads them as integers and takes no float
 * constant there: a QDQ graph that left such a constant float (another tool's: no DequantizeLinear of its own)
 * keeps the op float between DEQUANTIZE and QUANTIZE, as the QDQ graph computes it. Written integer, the
 * interpreter refused the files ("Can't initialize model": BATCH_MATMUL wants one integer type on both sides,
 * FULLY_CONNECTED a quantized weight; ADD / MUL / CONCATENATION / GATHER of a float constant likewise).
 * nnport's own quantizer gives such constants a DequantizeLinear (quantize.ts).
 */
const NO_FLOAT_CONSTANT: Readonly<Record<string, readonly number[]>> = {
  MatMul: [0, 1], Gemm: [0, 1], Add: [0, 1], Sub: [0, 1], Mul: [0, 1], PRelu: [0, 1], Gather: [0],
};
/** ...and the variadic Concat / Max / Min, every input. */
const VARIADIC_DATA = new Set(['Concat', 'Max', 'Min']);
const floatConstantOperands = (n: Node): readonly number[] | undefined => (VARIADIC_DATA.has(opKey(n)) ? n.inputs.map((_, k) => k) : NO_FLOAT_CONSTANT[opKey(n)]);

/**
 * QDQ -> quantized tensors. An op whose float inputs all come from DequantizeLinear and whose
 * float outputs each go to one QuantizeLinear is an integer op: it reads and writes the
 * integer tensors (aliases), and those Q/DQ nodes disappear. A conv/dense whose weights alone
 * are dequantized is a hybrid (dynamic-range) op reading the int8 weights. Ops on integers
 * alone (Reshape of an int8 tensor) pass the quantization of their input on. Every other
 * Q/DQ stays a QUANTIZE/DEQUANTIZE op.
 */
function collapseQdq(g: Graph, shapes: ReturnType<typeof inferShapes>['values'], floatOps?: ReadonlySet<string>) {
  const producer = producersOf(g.nodes);
  const consumers = readersOf(g.nodes);
  const outputs = new Set(g.outputs.map((v) => v.name));
  const dtypeOf = (v: string) => g.initializers.get(v)?.dtype ?? shapes.get(v)?.dtype;
  const isFloat = (v: string) => {
    const d = dtypeOf(v);
    return d === 'float32' || d === 'float16';
  };
  // parameters pass between integer tensors of one type only: not onto a SHAPE's int32 dims, an ARG_MAX's indices
  const sameType = (a: string, b: string) => {
    const [da, db] = [dtypeOf(a), dtypeOf(b)];
    return !da || !db || da === db;
  };
  const qparams = (n: Node): TfliteQuantParams | undefined => {
    const s = n.inputs[1] ? g.initializers.get(n.inputs[1]) : undefined;
    if (!s || (n.inputs[2] && !g.initializers.has(n.inputs[2]))) return undefined;
    const scale = s.toNumbers();
    const z = n.inputs[2] ? g.initializers.get(n.inputs[2])! : undefined;
    const axisAttr = n.attrs.axis;
    return { scale, zeroPoint: z ? z.toNumbers() : scale.map(() => 0), axis: scale.length > 1 ? (axisAttr?.type === 'int' ? axisAttr.value : 1) : undefined };
  };
  const isDq = (n: Node | undefined): boolean => !!n && n.opType === 'DequantizeLinear' && !n.domain && !!qparams(n);
  const isQ = (n: Node | undefined): boolean => !!n && n.opType === 'QuantizeLinear' && !n.domain && !!qparams(n);
  const ops = g.nodes.filter((n) => !isDq(n) && !isQ(n) && n.opType !== 'Constant');
  // an op's float output goes to one QuantizeLinear, or through one Relu/Clip (a fused activation) to one
  const isAct = (n: Node | undefined): boolean => !!n && !n.domain && (n.opType === 'Relu' || n.opType === 'Clip');
  const onlyConsumer = (v: string): Node | undefined => (!outputs.has(v) && (consumers.get(v) ?? []).length === 1 ? consumers.get(v)![0] : undefined);
  const quantizedBy = (o: string): { q: Node; act?: Node } | undefined => {
    const c = onlyConsumer(o);
    if (isQ(c)) return { q: c! };
    if (isAct(c)) {
      const q = onlyConsumer(c!.outputs[0]!);
      if (isQ(q)) return { q: q!, act: c! };
    }
    return undefined;
  };
  // structural candidates for integer ops
  const candidate = new Set(
    ops.filter((n) => {
      if (floatOps?.has(opKey(n))) return false;
      if (floatConstantOperands(n)?.some((at) => !!n.inputs[at] && isFloat(n.inputs[at]) && g.initializers.has(n.inputs[at]))) return false;
      if (PER_TENSOR_OPERANDS.has(opKey(n)) && n.inputs.some((i) => i && isDq(producer.get(i)) && qparams(producer.get(i)!)!.scale.length > 1)) return false;
      if (isAct(n) && isQ(onlyConsumer(n.outputs[0]!)) && producer.get(n.inputs[0]!) && !isDq(producer.get(n.inputs[0]!))) return false;
      const fo = n.outputs.filter((o) => o && isFloat(o));
      const fi = n.inputs.filter((i) => i && isFloat(i) && !g.initializers.has(i));
      return fo.length > 0 && fo.every((o) => quantizedBy(o)) && fi.every((i) => isDq(producer.get(i)));
    }),
  );
  // SHAPE reads only the dims: of the integer tensor as well (a run-time resize size taken from a quantized feature map)
  const readsShapeOnly = (n: Node) => n.opType === 'Shape' && !n.domain;
  const hybridWeight = (n: Node, v: string) => HYBRID.has(opKey(n)) && n.inputs[1] === v && g.initializers.has(producer.get(v)!.inputs[0]!);
  let dqAliased = new Set<Node>();
  for (;;) {
    const next = new Set(
      g.nodes.filter((d) => isDq(d) && !outputs.has(d.outputs[0]!) && (consumers.get(d.outputs[0]!) ?? []).every((c) => candidate.has(c) || hybridWeight(c, d.outputs[0]!) || isQ(c) || readsShapeOnly(c))),
    );
    let changed = next.size !== dqAliased.size;
    dqAliased = next;
    for (const n of [...candidate]) {
      const ok = n.inputs.every((i) => !i || !isFloat(i) || g.initializers.has(i) || dqAliased.has(producer.get(i)!));
      if (!ok) {
        candidate.delete(n);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const alias = new Map<string, string>();
  const quantOf = new Map<string, TfliteQuantParams>();
  const skip = new Set<Node>();
  for (const d of dqAliased) {
    alias.set(d.outputs[0]!, d.inputs[0]!);
    quantOf.set(d.inputs[0]!, qparams(d)!);
    skip.add(d);
  }
  for (const n of candidate) {
    for (const o of n.outputs) {
      if (!o || !isFloat(o)) continue;
      const { q, act } = quantizedBy(o)!;
      const p = qparams(q)!;
      quantOf.set(q.outputs[0]!, p);
      skip.add(q);
      if (!act) {
        alias.set(o, q.outputs[0]!);
        continue;
      }
      // op -> activation -> Q: the activation (fused later) writes the integer output
      quantOf.set(o, p);
      alias.set(act.outputs[0]!, q.outputs[0]!);
    }
  }
  // a hybrid op's input rounding (nnport::HybridInputQuantize, from the reader) is what the
  // hybrid kernel does by itself: the op reads the float value directly
  for (const n of g.nodes) {
    if (n.domain !== 'nnport' || n.opType !== 'HybridInputQuantize') continue;
    alias.set(n.outputs[0]!, n.inputs[0]!);
    skip.add(n);
  }
  // standalone Q/DQ keep their parameters on their integer side
  for (const n of g.nodes) {
    if (skip.has(n)) continue;
    if (isQ(n)) quantOf.set(n.outputs[0]!, qparams(n)!);
    if (isDq(n)) quantOf.set(n.inputs[0]!, qparams(n)!);
  }
  // nnport.QuantizedLstm's output has the parameters its attributes give, not its input's
  for (const n of g.nodes) if (n.domain === 'nnport' && n.opType === 'QuantizedLstm') quantOf.set(n.outputs[0]!, { scale: [attrFloat(n, 'output_scale', 0)], zeroPoint: [attrInt(n, 'output_zero_point', 0)] });
  // integer-only ops (Reshape/Transpose/Pad of int8 data) carry their input's parameters,
  // forward and back (a Transpose of an int8 graph input learns them from what reads it);
  // not an IF / WHILE (its first input is a condition or a trip count, its values cross on their own)
  const order = topologicalOrder(g).filter((n) => !isControlFlow(n));
  for (const n of [...order].reverse()) {
    if (skip.has(n) || isQ(n) || isDq(n)) continue;
    const out = n.outputs[0];
    const q = out ? quantOf.get(alias.get(out) ?? out) : undefined;
    const src = n.inputs[0];
    if (q && src && !isFloat(src) && !g.initializers.has(src) && !quantOf.has(alias.get(src) ?? src) && n.outputs.every((o) => !isFloat(o)) && sameType(alias.get(src) ?? src, alias.get(out!) ?? out!)) quantOf.set(alias.get(src) ?? src, q);
  }
  for (const n of order) {
    if (skip.has(n) || isQ(n) || isDq(n)) continue;
    const src = n.inputs[0];
    const q = src ? quantOf.get(alias.get(src) ?? src) : undefined;
    if (!q) continue;
    for (const o of n.outputs) if (o && !isFloat(o) && !quantOf.has(alias.get(o) ?? o) && sameType(alias.get(src!) ?? src!, alias.get(o) ?? o)) quantOf.set(alias.get(o) ?? o, q);
  }
  return { alias, quantOf, skip };
}

const attrIntOf = (n: Node, name: string): number | undefined => {
  const a = n.attrs[name];
  return a && a.type === 'int' ? a.value : undefined;
};

/**
 * Every float32 constant an op reads that was float16 in the graph (weights and biases, as TF's
 * converter stores every float constant of its float16 models) becomes float16 and a DEQUANTIZE to it.
 */
function storeAsFloat16(tensors: Map<string, WTensor>, ops: WOp[]): void {
  const read = new Set(ops.flatMap((op) => op.inputs));
  const dequantize: WOp[] = [];
  for (const t of [...tensors.values()]) {
    if (!t.data || !t.half || t.dtype !== 'float32' || !read.has(t.name)) continue;
    let half = `${t.name}_float16`;
    for (let i = 1; tensors.has(half); i++) half = `${t.name}_float16_${i}`;
    tensors.set(half, { name: half, dtype: 'float16', shape: t.shape, data: castFloat(t.data, 'float16') });
    t.data = undefined;
    dequantize.push({ code: BuiltinOperator.DEQUANTIZE, inputs: [half], outputs: [t.name] });
  }
  ops.unshift(...dequantize);
}

/** Where each op that may read int8 weights with float activations reads the two. */
const WEIGHTED: Partial<Record<BuiltinOperator, [number, number]>> = {
  [BuiltinOperator.CONV_2D]: [0, 1],
  [BuiltinOperator.DEPTHWISE_CONV_2D]: [0, 1],
  [BuiltinOperator.FULLY_CONNECTED]: [0, 1],
  [BuiltinOperator.TRANSPOSE_CONV]: [2, 1],
  [BuiltinOperator.BATCH_MATMUL]: [0, 1],
};

/**
 * Dynamic range: the int8 weights of ops TFLite computes in float read through a DEQUANTIZE
 * (weight-only quantization). An op is hybrid only when its float input comes through
 * nnport::HybridInputQuantize (the reader's marker, or quantizeGraph's in dynamic mode): every
 * other op reading int8 weights with a float input gets them dequantized, so a weight-only file
 * read back stays weight-only. Also dequantized: TRANSPOSE_CONV always (TF has no hybrid one),
 * FULLY_CONNECTED when its weights are per channel (the interpreter's hybrid FULLY_CONNECTED
 * takes one weight scale), and every op whose int8 weights `weightOnly` names.
 */
function dequantizeWeightOnly(tensors: Map<string, WTensor>, ops: WOp[], weightOnly: (weights: string) => boolean): void {
  const done = new Map<string, string>();
  const dequantize: WOp[] = [];
  for (const op of ops) {
    const at = WEIGHTED[op.code];
    if (!at) continue;
    const x = tensors.get(op.inputs[at[0]]!);
    const w = tensors.get(op.inputs[at[1]]!);
    if (!x || x.dtype !== 'float32' || !w || w.dtype !== 'int8' || !w.data || !w.quant) continue;
    const always = op.code === BuiltinOperator.TRANSPOSE_CONV || (op.code === BuiltinOperator.FULLY_CONNECTED && w.quant.scale.length > 1);
    if (!always && op.hybrid && !weightOnly(w.name)) continue;
    let name = done.get(w.name);
    if (!name) {
      name = `${w.name}_dequantized`;
      for (let i = 1; tensors.has(name); i++) name = `${w.name}_dequantized_${i}`;
      tensors.set(name, { name, dtype: 'float32', shape: w.shape });
      dequantize.push({ code: BuiltinOperator.DEQUANTIZE, inputs: [w.name], outputs: [name] });
      done.set(w.name, name);
    }
    op.inputs[at[1]] = name;
  }
  ops.unshift(...dequantize);
}

/** Where each weighted op reads its activation and its bias. */
const BIASED: Partial<Record<BuiltinOperator, [number, number]>> = {
  [BuiltinOperator.CONV_2D]: [0, 2],
  [BuiltinOperator.DEPTHWISE_CONV_2D]: [0, 2],
  [BuiltinOperator.FULLY_CONNECTED]: [0, 2],
  [BuiltinOperator.TRANSPOSE_CONV]: [2, 3],
};

/**
 * TFLite's 16x8 conv / fully-connected kernels take an int64 bias; the IR carries it as int32
 * (ONNX DequantizeLinear stops there), so each one read by an int16 op is widened.
 */
function widenInt16x8Biases(tensors: Map<string, WTensor>, ops: WOp[]): void {
  const widened = new Map<string, string>();
  for (const op of ops) {
    const at = BIASED[op.code];
    if (!at) continue;
    const x = tensors.get(op.inputs[at[0]]!);
    const b = op.inputs[at[1]] ? tensors.get(op.inputs[at[1]]!) : undefined;
    if (!x || x.dtype !== 'int16' || !b || b.dtype !== 'int32' || !b.data) continue;
    let name = widened.get(b.name);
    if (!name) {
      name = `${b.name}_int64`;
      for (let i = 1; tensors.has(name); i++) name = `${b.name}_int64_${i}`;
      tensors.set(name, { ...b, name, dtype: 'int64', data: new Tensor('int64', b.data.shape, BigInt64Array.from(b.data.toNumbers(), (v) => BigInt(v))) });
      widened.set(b.name, name);
    }
    op.inputs[at[1]] = name;
  }
}

/**
 * The types TFLite's kernels take for these ops' (non-quantized) data inputs, from its kernel
 * sources (add.cc, sub.cc, mul.cc, div.cc, maximum_minimum.cc, floor_mod.cc, pow.cc): an 8-bit
 * ADD of unquantized tensors aborts the interpreter, a uint8 MUL computes zeros, a float64 or
 * uint32 MAXIMUM fails to invoke. Such a file is refused instead of written.
 */
const KERNEL_TYPES: Partial<Record<BuiltinOperator, readonly DType[]>> = {
  [BuiltinOperator.ADD]: ['float32', 'int32', 'int64'],
  [BuiltinOperator.SUB]: ['float32', 'int32', 'int64'],
  [BuiltinOperator.MUL]: ['float32', 'int32', 'int64'],
  [BuiltinOperator.DIV]: ['float32', 'int32'],
  [BuiltinOperator.MAXIMUM]: ['float32', 'uint8', 'int8', 'int16', 'int32', 'int64'],
  [BuiltinOperator.MINIMUM]: ['float32', 'uint8', 'int8', 'int16', 'int32', 'int64'],
  [BuiltinOperator.FLOOR_MOD]: ['float32', 'int32', 'int64'],
  [BuiltinOperator.POW]: ['float32', 'int32'],
};

function refuseKernelTypes(tensors: Map<string, WTensor>, ops: WOp[], file: string): void {
  for (const op of ops) {
    const types = KERNEL_TYPES[op.code];
    const data = op.inputs.map((n) => (n ? tensors.get(n) : undefined)).filter((t): t is WTensor => !!t);
    const name = BuiltinOperator[op.code];
    // float64: TFLite computes in float32 (CAST has no float64 kernel either); the model must be made float32 first
    const wide = [...data, ...op.outputs.map((n) => tensors.get(n)!)].find((t) => t.dtype === 'float64' && !t.data);
    if (wide) throw new UnsupportedError(`float64 tensors in a TFLite file`, `'${wide.name}' (${name}) in ${file}: TFLite's kernels compute in float32; convert a float32 model`);
    if (!types) continue;
    const bad = data.find((t) => !t.quant && !types.includes(t.dtype));
    if (bad) throw new UnsupportedError(`${name} of ${bad.dtype} tensors in a TFLite file`, `'${bad.name}' in ${file}: TFLite's ${name} kernel takes ${types.join(', ')}${op.code === BuiltinOperator.ADD || op.code === BuiltinOperator.SUB || op.code === BuiltinOperator.MUL ? ' (8- and 16-bit only quantized)' : ''}`);
  }
}

/** RELU / RELU6 / RELU_N1_TO_1 folded into the op that produces their input when nothing else reads it. */
function fuseActivations(ops: WOp[], outputs: Set<string>): void {
  const readers = new Map<string, number>();
  for (const op of ops) for (const i of op.inputs) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  const producer = new Map<string, WOp>();
  for (const op of ops) for (const o of op.outputs) producer.set(o, op);
  for (let k = 0; k < ops.length; k++) {
    const act = ops[k]!;
    const fused = ACTIVATIONS[act.code];
    if (fused === undefined) continue;
    const x = act.inputs[0]!;
    const p = producer.get(x);
    if (!p || !p.fusable || (p.act ?? 0) !== 0 || readers.get(x) !== 1 || outputs.has(x)) continue;
    p.act = fused;
    p.outputs = p.outputs.map((o) => (o === x ? act.outputs[0]! : o));
    producer.set(act.outputs[0]!, p);
    ops.splice(k, 1);
    k--;
  }
}

/** A [ubyte] vector whose first byte lands on a 16-byte boundary of the finished file (one copy). */
function alignedBytes(b: Builder, bytes: Uint8Array): number {
  b.startVector(1, bytes.byteLength, 16);
  const internal = b as unknown as { space: number };
  internal.space -= bytes.byteLength;
  b.dataBuffer().bytes().set(bytes, internal.space);
  return b.endVector();
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/**
 * The first TFLite runtime of the operator versions the writer sets above 1 (and of those ops'
 * version 1), from TF's tools/versioning/runtime_version.cc: a hybrid sequence op (2) or one with
 * asymmetric_quantize_inputs (3) needs a runtime that has that kernel.
 */
const OP_RUNTIME: Partial<Record<BuiltinOperator, Record<number, string>>> = {
  [BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM]: { 1: '1.13.1', 2: '1.14.0', 3: '2.3.0' },
  [BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_RNN]: { 1: '1.14.0', 2: '1.14.0', 3: '2.3.0' },
  [BuiltinOperator.BROADCAST_TO]: { 2: '2.5.0' },
  [BuiltinOperator.TRANSPOSE]: { 4: '2.3.0', 6: '2.12.0' },
};

/** Whether runtime version a is older than b (dotted numbers). */
function olderRuntime(a: string, b: string): boolean {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0);
  return false;
}

function minRuntimeVersion(tensors: WTensor[], ops: WOp[]): string {
  const types = new Set(tensors.filter((t) => t.quant).map((t) => t.dtype));
  let v = types.has('int16') ? '2.3.0' : types.has('int8') ? '1.14.0' : '1.5.0';
  for (const op of ops) {
    const need = OP_RUNTIME[op.code]?.[op.version ?? (op.code === BuiltinOperator.BROADCAST_TO ? 2 : 1)];
    if (need && olderRuntime(v, need)) v = need;
  }
  return v;
}

function serialize(subgraphs: WSubgraph[], g: Graph, options: TfliteWriteOptions): Uint8Array {
  // per subgraph, tensors in first-use order: inputs, then op order
  const orders = subgraphs.map(({ tensors, ops, inputs, outputs }) => {
    const order: string[] = [];
    const index = new Map<string, number>();
    const add = (n: string) => {
      if (!n || index.has(n)) return;
      if (!tensors.has(n)) throw new GraphError(`TFLite writer: tensor '${n}' was never declared`);
      index.set(n, order.length);
      order.push(n);
    };
    inputs.forEach(add);
    for (const op of ops) {
      op.inputs.forEach(add);
      op.outputs.forEach(add);
      op.intermediates?.forEach(add);
    }
    outputs.forEach(add);
    return { order, index };
  });
  // every constant of every subgraph, in order: its data and where its buffer goes (keyed subgraph / tensor)
  const constants: Array<{ key: string; data: Tensor }> = [];
  subgraphs.forEach((sg, si) => {
    for (const n of orders[si]!.order) {
      const t = sg.tensors.get(n)!;
      if (t.data) constants.push({ key: `${si}\0${n}`, data: t.data });
    }
  });
  const allTensors = subgraphs.flatMap((sg) => [...sg.tensors.values()]);
  const allOps = subgraphs.flatMap((sg) => sg.ops);
  const constBytes = constants.reduce((s, c) => s + c.data.byteLength, 0);
  const large = constBytes > (options.largeModelThreshold ?? 2 ** 31 - 2 ** 26);
  const build = (offsets?: Map<string, number>): Uint8Array => {
    const b = new Builder(large ? 1 << 20 : Math.max(1024, constBytes + 65536));
    // buffers: 0 is the empty sentinel; one per constant; one for min_runtime_version
    const bufferOf = new Map<string, number>();
    const bufferOffsets: number[] = [FbBuffer.createBuffer(b, 0, 0n, 0n)];
    for (const { key, data } of constants) {
      const bytes = data.bytes();
      bufferOf.set(key, bufferOffsets.length);
      if (large) {
        // placeholder 1 on the first pass (same field widths), the real offset on the second
        bufferOffsets.push(FbBuffer.createBuffer(b, 0, BigInt(offsets?.get(key) ?? 1), BigInt(bytes.byteLength)));
        continue;
      }
      bufferOffsets.push(FbBuffer.createBuffer(b, alignedBytes(b, bytes), 0n, 0n));
    }
    const version = new TextEncoder().encode(minRuntimeVersion(allTensors, allOps));
    const versionBytes = new Uint8Array(16);
    versionBytes.set(version);
    const versionBuffer = bufferOffsets.length;
    bufferOffsets.push(FbBuffer.createBuffer(b, alignedBytes(b, versionBytes), 0n, 0n));

    // one operator code per builtin code and version, as TF's converter writes them
    const codes: Array<{ code: BuiltinOperator; version?: number }> = [];
    const codeIndex = new Map<string, number>();
    const subgraphOffsets = subgraphs.map((sg, si) => {
      const { order, index } = orders[si]!;
      const tensorOffsets = order.map((n) => {
        const t = sg.tensors.get(n)!;
        const type = TENSOR_TYPES[t.dtype];
        if (type === undefined) throw new UnsupportedError(`TFLite tensor of type ${t.dtype}`, `'${n}'`);
        const name = b.createString(n);
        const shape = FbTensor.createShapeVector(b, t.shape);
        const sig = t.signature ? FbTensor.createShapeSignatureVector(b, t.signature) : 0;
        let quant = 0;
        if (t.quant) {
          const scale = QuantizationParameters.createScaleVector(b, t.quant.scale);
          const zp = QuantizationParameters.createZeroPointVector(b, t.quant.zeroPoint.map((z) => BigInt(z)));
          QuantizationParameters.startQuantizationParameters(b);
          QuantizationParameters.addScale(b, scale);
          QuantizationParameters.addZeroPoint(b, zp);
          if (t.quant.axis !== undefined) QuantizationParameters.addQuantizedDimension(b, t.quant.axis);
          quant = QuantizationParameters.endQuantizationParameters(b);
        }
        FbTensor.startTensor(b);
        FbTensor.addShape(b, shape);
        FbTensor.addType(b, type);
        FbTensor.addBuffer(b, bufferOf.get(`${si}\0${n}`) ?? 0);
        FbTensor.addName(b, name);
        if (quant) FbTensor.addQuantization(b, quant);
        if (sig) FbTensor.addShapeSignature(b, sig);
        if (t.variable) FbTensor.addIsVariable(b, true);
        return FbTensor.endTensor(b);
      });
      const opOffsets = sg.ops.map((op) => {
        const key = `${op.code}/${op.version ?? ''}`;
        let ci = codeIndex.get(key);
        if (ci === undefined) {
          codeIndex.set(key, (ci = codes.length));
          codes.push({ code: op.code, version: op.version });
        }
        const ins = Operator.createInputsVector(b, op.inputs.map((n) => (n ? index.get(n)! : -1)));
        const outs = Operator.createOutputsVector(b, op.outputs.map((n) => index.get(n)!));
        const opts = op.options ? op.options(b, op.act ?? ActivationFunctionType.NONE) : undefined;
        const inter = op.intermediates ? Operator.createIntermediatesVector(b, op.intermediates.map((n) => index.get(n)!)) : 0;
        Operator.startOperator(b);
        Operator.addOpcodeIndex(b, ci);
        Operator.addInputs(b, ins);
        Operator.addOutputs(b, outs);
        if (inter) Operator.addIntermediates(b, inter);
        if (opts) {
          Operator.addBuiltinOptionsType(b, opts[0]);
          Operator.addBuiltinOptions(b, opts[1]);
        }
        return Operator.endOperator(b);
      });
      const sgName = b.createString(si === 0 ? g.name || 'main' : sg.name);
      const sgTensors = SubGraph.createTensorsVector(b, tensorOffsets);
      const sgInputs = SubGraph.createInputsVector(b, sg.inputs.map((n) => index.get(n)!));
      const sgOutputs = SubGraph.createOutputsVector(b, sg.outputs.map((n) => index.get(n)!));
      const sgOps = SubGraph.createOperatorsVector(b, opOffsets);
      SubGraph.startSubGraph(b);
      SubGraph.addTensors(b, sgTensors);
      SubGraph.addInputs(b, sgInputs);
      SubGraph.addOutputs(b, sgOutputs);
      SubGraph.addOperators(b, sgOps);
      SubGraph.addName(b, sgName);
      return SubGraph.endSubGraph(b);
    });
    const codeOffsets = codes.map(({ code: c, version }) => {
      OperatorCode.startOperatorCode(b);
      // codes above 127 live in builtin_code only; the deprecated int8 field says PLACEHOLDER_FOR_GREATER_OP_CODES
      OperatorCode.addDeprecatedBuiltinCode(b, Math.min(c, BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES));
      OperatorCode.addBuiltinCode(b, c);
      // BROADCAST_TO's kernels start at version 2 (version 1 was a placeholder)
      OperatorCode.addVersion(b, version ?? (c === BuiltinOperator.BROADCAST_TO ? 2 : 1));
      return OperatorCode.endOperatorCode(b);
    });

    const main = subgraphs[0]!;
    const mainIndex = orders[0]!.index;
    const tensorMaps = (names: string[], declared: string[]) =>
      names.map((n, i) => TensorMap.createTensorMap(b, b.createString(declared[i] ?? n), mainIndex.get(n)!));
    const sigInputs = SignatureDef.createInputsVector(b, tensorMaps(main.inputs, g.inputs.filter((v) => !g.initializers.has(v.name)).map((v) => v.name)));
    const sigOutputs = SignatureDef.createOutputsVector(b, tensorMaps(main.outputs, g.outputs.map((v) => v.name)));
    const sigKey = b.createString('serving_default');
    SignatureDef.startSignatureDef(b);
    SignatureDef.addInputs(b, sigInputs);
    SignatureDef.addOutputs(b, sigOutputs);
    SignatureDef.addSignatureKey(b, sigKey);
    SignatureDef.addSubgraphIndex(b, 0);
    const signature = SignatureDef.endSignatureDef(b);

    const metadata = Metadata.createMetadata(b, b.createString('min_runtime_version'), versionBuffer);
    const description = b.createString(`nnport ${NNPORT_VERSION}`);
    const codesVec = Model.createOperatorCodesVector(b, codeOffsets);
    const subgraphsVec = Model.createSubgraphsVector(b, subgraphOffsets);
    const buffersVec = Model.createBuffersVector(b, bufferOffsets);
    const metadataVec = Model.createMetadataVector(b, [metadata]);
    const signaturesVec = Model.createSignatureDefsVector(b, [signature]);
    Model.startModel(b);
    Model.addVersion(b, 3);
    Model.addOperatorCodes(b, codesVec);
    Model.addSubgraphs(b, subgraphsVec);
    Model.addDescription(b, description);
    Model.addBuffers(b, buffersVec);
    Model.addMetadata(b, metadataVec);
    Model.addSignatureDefs(b, signaturesVec);
    Model.finishModelBuffer(b, Model.endModel(b));
    return b.asUint8Array();
  };

  if (!large) return build().slice();
  // constants after the flatbuffer, each 16-byte aligned; offsets count from the file's start
  const first = build();
  const offsets = new Map<string, number>();
  let at = align(first.byteLength, 16);
  for (const { key, data } of constants) {
    offsets.set(key, at);
    at = align(at + data.byteLength, 16);
  }
  const fb = build(offsets);
  if (fb.byteLength !== first.byteLength) throw new GraphError('TFLite writer: the flatbuffer changed size between its two passes');
  const out = new Uint8Array(at);
  out.set(fb, 0);
  for (const { key, data } of constants) out.set(data.bytes(), offsets.get(key)!);
  return out;
}

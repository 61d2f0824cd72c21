// The public API of nnport: the same functions in Node and in browsers. Functions take
// bytes (plus a file name for messages); in Node, `loadModelFile` and friends take paths.
import { registerAllFormats } from './formats/all.js';
import { refuseCaffeDetectionOutput, requireCaffeWeights } from './formats/caffe/index.js';
import type { LoadedModel, ReadOptions, WriteOptions } from './formats/model.js';
import { formatForOutput, readModel, readModelFile, type FormatHandler } from './formats/registry.js';
import { tfjsGraphOutput } from './formats/tfjs/write-graph.js';
import { UnsupportedError, UsageError } from './ir/errors.js';
import { GraphDerived, runtimeInputs, type Dim, type Graph } from './ir/graph.js';
import { tensorFromNumbers } from './runtime/ops/args.js';
import type { Tensor } from './ir/tensor.js';
import type { TensorKernels } from './ir/tensor-kernels.js';
import { blobFileSet, nodeFileSet, type ModelFileInput, type TrackedFileSet } from './io/model-files.js';
import { runGraph, type RunOptions, type RunResult } from './runtime/executor.js';
import { runInteger, type IntegerOptions } from './runtime/integer/index.js';
import { inlineKernels } from './wasm/tensor-kernels.js';
import { summarize, type ModelSummary } from './api/summary.js';
import { diffTensors, pairOutputs, type TensorDiff } from './api/compare.js';
import { alignLegacyBroadcasts } from './passes/legacy-broadcast.js';
import { decomposeGroupNorm } from './passes/decompose-group-norm.js';
import { inlineControlFlow, isControlFlow } from './passes/inline-control-flow.js';
import { scanToLoop } from './passes/scan-to-loop.js';
import { hasSequences, resolveSequences } from './passes/resolve-sequences.js';
import { appendsAsScanOutputs } from './passes/sequence-scan-outputs.js';
import { createNodeEvaluator } from './runtime/evaluate.js';
import { hasChannelsLastOps, lowerChannelsLast } from './passes/lower-channels-last.js';
import { dequantizeGraph } from './passes/dequantize.js';
import { hasQOperatorOps, qoperatorToQdq } from './passes/qoperator-to-qdq.js';
import { decodeHalfWeights, halfComputeNote, halfOpsThroughFloat32, widenHalfCompute } from './passes/float16-weights.js';
import { dropHybridInputs, hybridDroppedNote, tfliteCanKeepHybridInput } from './passes/hybrid-inputs.js';
import { isIntegerStatefulNode, refuseTfliteStatefulOps } from './formats/tflite/recurrent-int.js';
import { fuseBias } from './passes/fuse-bias.js';
import { lowerEinsum } from './passes/lower-einsum.js';
import { channelsLastPerm, needsChannelsLast } from './passes/layout.js';
import { prepareForKeras } from './api/to-keras.js';
import { layerBaseName, layerNameFrom } from './formats/keras/from-graph.js';
import { transplant as transplantPass, type TransplantOptions, type TransplantReport } from './passes/transplant.js';

export * from './ir/index.js';
export type { LoadedModel, GraphModel, WeightsModel, ReadOptions, WriteOptions, FormatId, ModelFileSet } from './formats/model.js';
export { blobFileSet, nodeFileSet, type ModelFileInput } from './io/model-files.js';
export { detectFormat, formats } from './formats/registry.js';
export { readNpy, writeNpy } from './formats/numpy/index.js';
export { runGraph, type RunOptions, type RunResult } from './runtime/executor.js';
export { runInteger, fuseQdqIslands, type IntegerOptions } from './runtime/integer/index.js';
export { registerBackend, unregisterBackend, registeredBackends, type Backend } from './runtime/backend.js';
export { webgpuAvailable, webgpuGpuTimes, webgpuOpCounts, webgpuTraffic } from './webgpu/backend.js';
export { defineOp, runNow, type OpKernel, type OpTable, type OpContext } from './runtime/op.js';
export { initKernels, type KernelSource } from './wasm/loader.js';
export { inlineKernels } from './wasm/tensor-kernels.js';
export { formatSummary, type ModelSummary } from './api/summary.js';
export { diffTensors, type TensorDiff } from './api/compare.js';
export { parseNameMapping } from './passes/name-mapping.js';
export { TransplantError, type TransplantOptions, type TransplantReport, type TransplantMatch } from './passes/transplant.js';
export { readPytorch } from './formats/pytorch/index.js';
export { readSafetensors, writeSafetensors } from './formats/safetensors/index.js';
export { freeze, type FreezeOptions, type FrozenGraph } from './passes/freeze.js';
export { writeNpz } from './formats/numpy/index.js';
export { toChannelsLast, explainLayout, type LayoutOptions, type LayoutResult, type KeptTranspose } from './passes/layout.js';
export { lowerChannelsLast, hasChannelsLastOps } from './passes/lower-channels-last.js';
export { makePaddingExplicit } from './passes/explicit-padding.js';
export { foldBatchNorm, type FoldBatchNormResult } from './passes/fold-bn.js';
export { dequantizeGraph, type DequantizeResult } from './passes/dequantize.js';
export { foldConstants, type FoldConstantsOptions, type ConstantEvaluator } from './passes/fold-constants.js';
export { createNodeEvaluator, type NodeEvaluator } from './runtime/evaluate.js';
export { readKerasH5, readKerasV3, writeKerasH5, writeKerasV3 } from './formats/keras/index.js';
export { readTfjsLayers, writeTfjsLayers } from './formats/tfjs/index.js';
export { decodeImage, type RgbImage } from './image/decode.js';
export { imageToInput, resizeBilinear, type ImageInputOptions } from './image/input.js';

registerAllFormats();

/** Read a model from its bytes. */
export async function loadModel(bytes: Uint8Array, options: ReadOptions = {}): Promise<LoadedModel> {
  return readModel(bytes, options);
}

/** Read a model file (Node): external data and sibling files resolve next to it. A folder path reads the model inside it. */
export async function loadModelFile(path: string, options: Omit<ReadOptions, 'fileName' | 'readSibling' | 'files'> = {}): Promise<LoadedModel> {
  return loadModelFiles([path], options);
}

/**
 * Read a model made of one or several files: paths in Node (several files, e.g.
 * `['deploy.prototxt', 'weights.caffemodel']`, or one folder: a SavedModel or TF.js folder), or
 * File/Blob objects (browser; `{ name, bytes }` anywhere). The first file is the primary one;
 * the format's reader gets all of them as `options.files`. A given file the reader did not use
 * is an error rather than silently ignored.
 */
export async function loadModelFiles(
  input: string | readonly string[] | readonly ModelFileInput[],
  options: Omit<ReadOptions, 'fileName' | 'readSibling' | 'files'> = {},
): Promise<LoadedModel> {
  const list = typeof input === 'string' ? [input] : input;
  const files: TrackedFileSet = list.length && typeof list[0] === 'string' ? nodeFileSet(list as readonly string[]) : blobFileSet(list as readonly ModelFileInput[]);
  const primary = files.given[0]!;
  const readOptions: ReadOptions = { ...options, fileName: primary, files, readSibling: (rel) => files.read(rel) };
  // Node paths: a format that reads by positioned reads (a GraphDef over 2 GiB) opens the file itself
  const local = files.localPath?.(primary);
  const model = local !== undefined ? await readModelFile(local, () => files.read(primary), readOptions) : await readModel(await files.read(primary), readOptions);
  const unused = files.unused();
  if (unused.length) {
    throw new UsageError(`${primary} is a ${model.format} model, which did not use ${unused.map((u) => `'${u}'`).join(', ')}; give only the files of one model`);
  }
  return model;
}

/** Format, ops, inputs/outputs and every weight of a model. */
export async function inspect(model: LoadedModel, fileName = '<model>'): Promise<ModelSummary> {
  return summarize(model, fileName);
}

function graphOf(model: LoadedModel | Graph): Graph {
  if ('kind' in model) {
    if (model.kind !== 'graph') throw new UsageError(`a ${model.format} file holds weights only, not a graph that can be run`);
    requireCaffeWeights(model);
    return model.graph;
  }
  return model;
}

/** Whether `run` executes the model with TFLite's integer arithmetic: a quantized TFLite model (int8, 16x8, an int8 LSTM / SVDF). */
export function runsInteger(model: LoadedModel | Graph): boolean {
  return 'kind' in model && model.format === 'tflite' && model.kind === 'graph' && model.graph.nodes.some((n) => n.opType === 'QuantizeLinear' || isIntegerStatefulNode(n));
}

/**
 * Reference forward pass. `feeds` maps input names to tensors. A quantized TFLite model runs with
 * TFLite's integer arithmetic (src/runtime/integer), its rounding as `requantization` says.
 */
export async function run(model: LoadedModel | Graph, feeds: Map<string, Tensor> | Record<string, Tensor>, options: RunOptions & Pick<IntegerOptions, 'requantization'> = {}): Promise<RunResult> {
  if (runsInteger(model)) return runInteger(graphOf(model), feeds, options);
  // a float16 model (float16 ONNX): the kernels compute in float32, each op's output rounded to float16;
  // the wrapped graph is kept per graph, so the executor's own caches see the same graph every run
  return runGraph(halfRunnable.get(graphOf(model), halfOpsThroughFloat32), feeds, options);
}

const halfRunnable = new GraphDerived<Graph>();

export interface ConvertResult {
  /** the main output file's bytes */
  bytes: Uint8Array;
  /** further files to write next to it (external data, weight shards) */
  sidecars: Map<string, Uint8Array>;
  /** what the conversion changed that a user should know (Keras / TF.js: layout pass notes and kept transposes, folded BNs, expanded grouped convs) */
  notes: string[];
}

/** Convert a loaded model to the format implied by `outputName`'s extension. */
export async function convert(model: LoadedModel, outputName: string, options: Omit<WriteOptions, 'fileName' | 'sidecars'> = {}): Promise<ConvertResult> {
  const handler = outputHandler(outputName, options);
  try {
    const prepared = await prepareForOutput(model, handler, options);
    const sidecars = new Map<string, Uint8Array>();
    const writeOptions: WriteOptions & { notes?: string[] } = { ...options, fileName: outputName, sidecars, notes: prepared.notes };
    const bytes = await handler.write!(prepared.model, writeOptions);
    return { bytes, sidecars, notes: prepared.notes };
  } catch (e) {
    // what a layers model cannot hold (a Keras layer or activation TF.js lacks) a graph model of TF ops may
    if (e instanceof UnsupportedError && handler.id === 'tfjs' && !e.message.includes('--tfjs-format graph')) e.message += " (a TF.js graph model may hold it: --tfjs-format graph, convert(..., { tfjsFormat: 'graph' }))";
    throw e;
  }
}

/** The writer of `outputName`: by extension; a TF.js model.json as a layers model or, with tfjsFormat 'graph', a graph model. */
function outputHandler(outputName: string, options: Pick<WriteOptions, 'tfjsFormat' | 'tfjsQuantize'>): FormatHandler {
  const h = formatForOutput(outputName);
  const fmt = options.tfjsFormat;
  if (fmt !== undefined && fmt !== 'layers' && fmt !== 'graph') throw new UsageError(`the TF.js model format must be layers or graph, got '${String(fmt)}'`);
  if (h.id !== 'tfjs') {
    if (fmt !== undefined || options.tfjsQuantize !== undefined) throw new UsageError(`${fmt !== undefined ? 'the TF.js model format' : 'TF.js weight quantization'} applies to a TF.js model.json, not '${outputName}'`);
    return h;
  }
  if (fmt === 'graph') return tfjsGraphOutput;
  if (options.tfjsQuantize !== undefined) throw new UsageError(`TF.js weight quantization (${String(options.tfjsQuantize)}) applies to TF.js graph models (tfjsFormat 'graph', --tfjs-format graph), not to layers models`);
  return h;
}

/** Whether `convertToFile` can write `outputName`'s format straight to disk (Node: Keras .h5). */
export function canConvertToFile(outputName: string): boolean {
  return !!formatForOutput(outputName).writeFile;
}

/**
 * Node: convert into the file at `path` (the format of `outputName`), each weight written as it
 * is converted, without the output ever whole in memory. For formats where canConvertToFile
 * holds; `path` is written as is (the CLI gives a temporary file that it renames into place).
 */
export async function convertToFile(model: LoadedModel, outputName: string, path: string, options: Omit<WriteOptions, 'fileName' | 'sidecars'> = {}): Promise<{ notes: string[] }> {
  const handler = formatForOutput(outputName);
  if (!handler.writeFile) throw new UsageError(`${handler.title} output cannot be streamed to a file; use convert`);
  const prepared = await prepareForOutput(model, handler, options);
  await handler.writeFile(prepared.model, path, { ...options, fileName: outputName });
  return { notes: prepared.notes };
}

async function prepareForOutput(model: LoadedModel, handler: FormatHandler, options: Pick<WriteOptions, 'foldBn' | 'expandGroupedConv' | 'dequantize' | 'quantize' | 'tfjsFormat' | 'tfjsQuantize'>): Promise<{ model: LoadedModel; notes: string[] }> {
  const format: string = handler.id;
  requireCaffeWeights(model);
  refuseCaffeDetectionOutput(model, format);
  // TFLite's stateful ops (SVDF, integer LSTM) have no counterpart in the other formats
  if (model.kind === 'graph' && format !== 'tflite') refuseTfliteStatefulOps(model.graph, format);
  const notes: string[] = [];
  // sequence / optional values: only ONNX has them; known sequences become Split / Concat / Identity, the rest refused
  if (model.kind === 'graph' && format !== 'onnx' && hasSequences(model.graph)) {
    const r = resolveSequences(handler.writesControlFlow?.(options) ? appendsAsScanOutputs(model.graph).graph : model.graph, { evaluate: await createNodeEvaluator() });
    const [first] = r.left;
    if (first) throw new UnsupportedError(`sequence / optional values in a ${format} file`, `${first.what} stays: ${first.why}${r.left.length > 1 ? ` (and ${r.left.length - 1} more)` : ''}`);
    model = { ...model, graph: r.graph };
    notes.push(`${r.resolved} sequence op${r.resolved === 1 ? '' : 's'} made tensor ops${r.unrolled.length ? ` (Loop ${r.unrolled.join(', ')} unrolled)` : ''}`);
  }
  // If / Loop / Scan: only ONNX writes subgraphs; for the others constant control flow is made straight-line, the rest refused
  if (model.kind === 'graph' && format !== 'onnx' && model.graph.nodes.some(isControlFlow)) {
    const inlined = inlineControlFlow(model.graph, { evaluate: await createNodeEvaluator() });
    // a Scan of run-time length: a Loop, which the writers that keep control flow keep
    const r = handler.writesControlFlow?.(options) ? { ...inlined, graph: scanToLoop(inlined.graph).graph } : inlined;
    const [first] = r.left;
    if (first && handler.writesControlFlow?.(options)) {
      const ops = [...new Set(r.left.map((l) => l.node.opType))].join(', ');
      notes.push(`${r.left.length} ${ops} kept as ${format} control flow (${r.left.map((l) => l.node.name || l.node.opType).join(', ')})`);
    } else if (first) {
      const ops = [...new Set(r.left.map((l) => l.node.opType))].join(', ');
      throw new UnsupportedError(`${ops} (control flow) in a ${format} file`, `${first.node.name ? `node '${first.node.name}'` : 'a node'} (${first.node.opType}) stays: ${first.why}${r.left.length > 1 ? ` (and ${r.left.length - 1} more)` : ''}`);
    }
    model = { ...model, graph: r.graph };
    if (r.inlined.length) notes.push(`${r.inlined.length} If with a constant condition inlined (${r.inlined.join(', ')})`);
    for (const u of r.unrolled) notes.push(`${u.op} '${u.name}' unrolled: ${u.iterations} iterations`);
  }
  // GroupNormalization (opset 18 / 21): the writers with no group-norm op take PyTorch's spelling of it (Keras has the layer)
  if (model.kind === 'graph' && (format === 'tflite' || format === 'tf-graphdef' || format === 'tfjs-graph')) {
    const r = decomposeGroupNorm(model.graph);
    if (r.decomposed) {
      model = { ...model, graph: r.graph };
      notes.push(`${r.decomposed} GroupNormalization written as Reshape, InstanceNormalization, Reshape, Mul, Add`);
    }
  }
  // an opset < 7 graph's "broadcast at axis" (and PRelu-6's per-channel slope): the other formats broadcast numpy's way
  if (model.kind === 'graph' && format !== 'onnx') model = { ...model, graph: alignLegacyBroadcasts(model.graph).graph };
  // onnxruntime's quantized operators (QLinearConv, ConvInteger, com.microsoft QLinear*): the other writers take QDQ
  if (model.kind === 'graph' && (format !== 'onnx' || options.dequantize) && hasQOperatorOps(model.graph)) {
    const r = qoperatorToQdq(model.graph, { tfliteInt8: format === 'tflite' && !options.dequantize, keepSaturation: !!options.dequantize });
    model = { ...model, graph: r.graph };
    notes.push(`${r.lowered} onnxruntime quantized operator${r.lowered === 1 ? '' : 's'} written as QDQ (DequantizeLinear -> float op -> QuantizeLinear)${r.shifted ? ', uint8 tensors as int8' : ''}`);
  }
  // a float16 graph (a float16 ONNX model): every other format's kernels compute in float32
  if (model.kind === 'graph' && (format !== 'onnx' || options.dequantize)) {
    const r = widenHalfCompute(model.graph);
    if (r.graph !== model.graph) {
      model = { ...model, graph: r.graph };
      notes.push(halfComputeNote(r, format, options));
    }
  }
  // a dynamic-range TFLite model's hybrid ops: only a TFLite file has kernels that round their inputs
  if (model.kind === 'graph' && (options.dequantize || format !== 'tflite')) {
    const r = dropHybridInputs(model.graph);
    if (r.dropped) {
      model = { ...model, graph: r.graph };
      notes.push(hybridDroppedNote(r.dropped, options.dequantize ? '--dequantize makes a float model' : `${format} has no such op`));
    }
  }
  // in a TFLite file conv / dense kernels and the hybrid sequence ops (nnport::HybridLSTM /
  // HybridRNN) round a float input: a hybrid LSTM the reader unrolled (a projection, layer norm)
  // or a hybrid SVDF is written weight-only
  if (model.kind === 'graph' && !options.dequantize && format === 'tflite') {
    const g = model.graph;
    const r = dropHybridInputs(g, (m) => !tfliteCanKeepHybridInput(g, m));
    if (r.dropped) {
      model = { ...model, graph: r.graph };
      notes.push(hybridDroppedNote(r.dropped, 'nnport writes hybrid TFLite kernels for conv and dense layers and for LSTM / RNN, not for an LSTM with a projection or layer norm (unrolled when read) or an SVDF'));
    }
  }
  // float16 weights (a float16 TFLite file): ONNX keeps them (float16 initializers + Cast), as does TFLite
  // unless another --quantize is asked for; the other writers take float32 weights
  if (model.kind === 'graph' && (options.dequantize || (format !== 'tflite' && format !== 'onnx'))) {
    const r = decodeHalfWeights(model.graph);
    if (r.decoded) {
      model = { ...model, graph: r.graph };
      notes.push(`${r.decoded} float16 weight${r.decoded > 1 ? 's' : ''} written as float32 (${options.dequantize ? '--dequantize makes a float32 model' : `nnport writes ${format} weights as float32`})`);
    }
  }
  if (options.dequantize) {
    if (model.kind !== 'graph') throw new UsageError('--dequantize needs a model with a graph');
    const r = dequantizeGraph(model.graph);
    model = { ...model, graph: r.graph };
    notes.push(...r.notes);
  }
  // Einsum: TFLite and Keras / TF.js layers have none; Transpose / Reshape / MatMul / ReduceSum there (lower-einsum.ts). ONNX and GraphDef keep it
  const layers = format === 'keras-h5' || format === 'keras-v3' || format === 'tfjs';
  if (model.kind === 'graph' && (format === 'tflite' || layers) && model.graph.nodes.some((n) => n.opType === 'Einsum' && (n.domain === '' || n.domain === 'ai.onnx'))) {
    const r = lowerEinsum(model.graph, { batchAxis: layers, format });
    model = { ...model, graph: r.graph };
    notes.push(`${r.lowered.length} Einsum written as MatMul / Transpose / Reshape${layers ? '' : ' / ReduceSum'} (${r.lowered.join(', ')})`);
  }
  // channels-last nnport ops (from Keras / TF / TFLite readers) become ONNX ops + the transposes the data needs
  if (format === 'onnx' && model.kind === 'graph' && hasChannelsLastOps(model.graph)) model = { ...model, graph: lowerChannelsLast(model.graph).graph };
  // Keras and TF.js layers models are channels-last, with static Reshape targets
  if ((format === 'keras-h5' || format === 'keras-v3' || format === 'tfjs') && model.kind === 'graph') {
    // TF.js has no kernel for Conv2D(groups): its layers model always gets block-diagonal kernels
    const prepared = await prepareForKeras(model.graph, { foldBn: options.foldBn, expandGroupedConv: format === 'tfjs' || options.expandGroupedConv, spreadDilatedDepthwise: format === 'tfjs' || options.expandGroupedConv });
    model = { ...model, graph: prepared.graph };
    notes.push(...prepared.transposes.map((t) => `${t.io ? 'I/O' : 'kept'} transpose '${t.node}' of '${t.value}' perm [${t.perm.join(', ')}]: ${t.why}`), ...prepared.notes);
  }
  return { model, notes };
}

/**
 * Fill `target`'s weights from `source` by name (a state dict, safetensors, npz, or another
 * model's initializers), fixing layouts per layer type. Returns the new model and a report.
 */
export async function transplantWeights(
  source: LoadedModel,
  target: LoadedModel,
  options: Omit<TransplantOptions, 'kernels'> & { kernels?: TensorKernels } = {},
): Promise<{ model: LoadedModel; report: TransplantReport }> {
  if (target.kind !== 'graph') throw new UsageError(`the target of a transplant must be a model with a graph, not ${target.format} weights`);
  const weights = source.kind === 'weights' ? source.tensors : (source.sourceWeights ?? source.graph.initializers);
  // layout fixes and casts run on the inline WASM kernels unless the caller brings others (a worker pool)
  // Keras / TF.js layers targets hold channels-last kernels: PyTorch / ONNX weights are re-laid per layer
  const keras = (f: string) => f === 'keras-h5' || f === 'keras-v3' || f === 'tfjs';
  // TensorFlow stores kernels as Keras does (HWIO convolutions, (in, out) dense kernels)
  const channelsLastSource = (f: string) => keras(f) || f.startsWith('tf-') || f === 'tfjs-graph';
  const conventions = { convention: keras(target.format) ? ('keras' as const) : ('onnx' as const), sourceConvention: channelsLastSource(source.format) ? ('keras' as const) : ('onnx' as const) };
  const { graph, report } = await transplantPass(weights, target.graph, { ...conventions, ...options, kernels: options.kernels ?? inlineKernels });
  return { model: { ...target, graph }, report };
}

/**
 * Run `source` and `target` on the same feeds and measure the target's error per output
 * (paired by name, else by position) and, with `layers`, per intermediate tensor name both share.
 */
export async function compare(
  source: LoadedModel | Graph,
  target: LoadedModel | Graph,
  feeds: Map<string, Tensor> | Record<string, Tensor>,
  options: {
    layers?: boolean;
    /** runtime backends for the target's run (the source runs on the default, wasm) */
    targetBackends?: readonly string[];
    /** how a quantized TFLite model on either side rounds (IntegerOptions.requantization) */
    requantization?: IntegerOptions['requantization'];
  } = {},
): Promise<{ outputs: TensorDiff[]; layers?: TensorDiff[] }> {
  const feedMap = feeds instanceof Map ? feeds : new Map(Object.entries(feeds));
  const a = await run(source, feedMap, { keepIntermediates: options.layers, requantization: options.requantization });
  // a converted model may rename its inputs: feed it by position then
  const srcNames = runtimeInputs(graphOf(source)).map((v) => v.name);
  const dstNames = runtimeInputs(graphOf(target)).map((v) => v.name);
  if (srcNames.length !== dstNames.length) throw new UsageError(`the models have ${srcNames.length} and ${dstNames.length} inputs; cannot feed them the same data`);
  // an NCHW model against a channels-last one (ONNX vs Keras / TF.js): the NHWC side gets the
  // input transposed, and the NCHW side's 4-D values are transposed before comparing
  const lastSide = crossLayout(graphOf(source), graphOf(target));
  const toLast = async (t: Tensor): Promise<Tensor> => (t.rank >= 3 ? inlineKernels.permute(t, channelsLastPerm(t.rank)) : t);
  let dstFeeds = dstNames.every((n) => feedMap.has(n)) ? feedMap : new Map(dstNames.map((n, i) => [n, feedMap.get(srcNames[i]!)!]));
  if (lastSide === 'target') dstFeeds = new Map(await Promise.all([...dstFeeds].map(async ([n, t]) => [n, await toLast(t)] as [string, Tensor])));
  // a float16 model against its float32-I/O conversion (.tflite, Keras, ...) or the other way round:
  // the target gets the same values in its own float type
  const dstTypes = new Map(runtimeInputs(graphOf(target)).map((v) => [v.name, v.dtype] as const));
  const floats = new Set(['float16', 'float32']);
  dstFeeds = new Map(
    [...dstFeeds].map(([n, t]) => {
      const want = dstTypes.get(n);
      return [n, want && want !== t.dtype && floats.has(want) && floats.has(t.dtype) ? tensorFromNumbers(want, t.shape, t.toNumbers()) : t] as [string, Tensor];
    }),
  );
  const b = await run(target, dstFeeds, { keepIntermediates: options.layers, backends: options.targetBackends, requantization: options.requantization });
  const srcOutputs = lastSide === 'target' ? new Map(await Promise.all([...a.outputs].map(async ([n, t]) => [n, await toLast(t)] as [string, Tensor]))) : a.outputs;
  const outputs = pairOutputs(b.outputs, srcOutputs).map(([n, x, y]) => diffTensors(n, x, y));
  if (!options.layers) return { outputs };
  const layers: TensorDiff[] = [];
  if (lastSide === 'target') {
    // the Keras writer names each layer after its source node (layerBaseName): match by that name.
    // It folds a separate bias Add into the layer before it, whose output is then the Add's
    const sg = fuseBias(graphOf(source)).graph;
    for (const n of sg.nodes) {
      const name = layerNameFrom(layerBaseName(n, (i) => sg.initializers.has(i)));
      const t = b.values!.get(name);
      const ref = a.values!.get(n.outputs[0]!);
      if (t && ref && !b.outputs.has(name)) layers.push(diffTensors(`${name} ~ ${n.outputs[0]}`, t, await toLast(ref)));
    }
    return { outputs, layers };
  }
  for (const [name, t] of b.values!) {
    const ref = a.values!.get(name);
    if (ref && !b.outputs.has(name)) layers.push(diffTensors(name, t, ref));
  }
  return { outputs, layers };
}

/**
 * 'target' when the source is an NCHW graph and the target channels-last: nnport ops, or inputs
 * laid out channels-last (a .tflite whose only such op became MUL + ADD has no nnport op left).
 */
function crossLayout(source: Graph, target: Graph): 'target' | undefined {
  if (!needsChannelsLast(source)) return undefined;
  if (hasChannelsLastOps(target)) return 'target';
  const same = (a: Dim | undefined, b: Dim | undefined) => a === b || typeof a !== 'number' || typeof b !== 'number';
  const targets = runtimeInputs(target);
  const permuted = runtimeInputs(source).some((v, i) => {
    const [a, b] = [v.shape, targets[i]?.shape];
    if (!a || !b || a.length < 3 || a.length !== b.length || a.every((d, j) => d === b[j])) return false;
    return channelsLastPerm(a.length).every((k, j) => same(a[k], b[j]));
  });
  return permuted ? 'target' : undefined;
}

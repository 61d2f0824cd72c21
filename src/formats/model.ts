import type { Graph } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

/** Identifiers of every file format nnport detects. */
export type FormatId =
  | 'onnx'
  | 'tflite'
  | 'tf-graphdef'
  | 'tf-checkpoint-meta'
  | 'tf-checkpoint-index'
  | 'tf-saved-model'
  | 'keras-h5'
  | 'keras-v3'
  | 'tfjs'
  | 'tfjs-graph'
  | 'caffe-prototxt'
  | 'caffemodel'
  | 'pytorch-zip'
  | 'pytorch-legacy'
  | 'safetensors'
  | 'npy'
  | 'npz';

/** What reading a file gives: a computation graph, or (for checkpoints) named weights only. */
export type LoadedModel = GraphModel | WeightsModel;

/** A format-specific table for `inspect` (TensorFlow: source nodes with device and attrs, signatures, variables). */
export interface Listing {
  title: string;
  columns: string[];
  rows: string[][];
}

export interface GraphModel {
  kind: 'graph';
  format: FormatId;
  graph: Graph;
  /** what the source file holds beyond the IR graph, as tables for `inspect` */
  listings?: Listing[];
  /**
   * the weights as the source file names them, where the graph's initializers differ (a
   * TensorFlow graph's float Const nodes, before any re-layout): what `transplant` takes
   */
  sourceWeights?: Map<string, Tensor>;
}

export interface WeightsModel {
  kind: 'weights';
  format: FormatId;
  /** flat, ordered name -> tensor map (the selected state dict) */
  tensors: Map<string, Tensor>;
  /** container paths holding tensor maps (e.g. 'model', 'optimizer.state'), '' for the root */
  containers?: string[];
  /** the container path `tensors` came from */
  selected?: string;
  /** non-tensor leaves worth showing (epoch, step, format version), stringified */
  scalars?: Record<string, string>;
  metadata?: Record<string, string>;
  /** what the source file holds beyond the tensors, as tables for `inspect` */
  listings?: Listing[];
}

/**
 * The files of a model made of several (Caffe prototxt + caffemodel, TF .meta + .index +
 * .data-*, SavedModel folders, TF.js model.json + shards, ONNX + external data), with the
 * names the user chose. In Node it is backed by paths (guarded: regular files only, siblings
 * stay inside the model's folder); in the browser by a File/Blob list.
 */
export interface ModelFileSet {
  /** the files the user named, in the order given (the first is the primary file) */
  readonly given: readonly string[];
  /** read one of the given files, or a file beside the primary one by relative path */
  read(name: string): Promise<Uint8Array>;
  /** names (relative to the primary file's folder) of the files that can be read */
  list(): Promise<string[]>;
}

export interface ReadOptions {
  /** file name, for error messages and relative paths */
  fileName?: string;
  /** every file of a multi-file model (see ModelFileSet); readers of multi-file formats use it */
  files?: ModelFileSet;
  /** read a file next to the model (ONNX external data, Caffe weights); rejects paths outside its folder */
  readSibling?: (relativePath: string) => Promise<Uint8Array>;
  /** container path to select in nested checkpoints (`--key`) */
  key?: string;
  /** graph formats: output nodes to keep (TensorFlow "name" or "name:1"; default: what nothing consumes) */
  outputs?: string[];
  /** fixed shapes of inputs whose shape the file leaves open (`--input-shape NAME=d0,d1,...`) */
  inputShapes?: Record<string, number[]>;
  /** Caffe: fold each Scale layer that follows a BatchNorm into one BatchNormalization (`--fuse-scale`) */
  fuseScale?: boolean;
  /** inputs replaced by scalar constants (`--set keep_prob=1.0`) */
  set?: Record<string, number>;
  /** TensorFlow MetaGraph/SavedModel: the signature to read (`--signature`, default serving_default) */
  signature?: string;
  /** TensorFlow .meta: the checkpoint whose values fill the variables (prefix, .index or folder) */
  checkpoint?: string;
  /**
   * `inspect`: a graph with ops nnport cannot convert is still described (the source's own
   * nodes and weights, the reason in metadata) instead of refused; conversion never sets it
   */
  describeOnly?: boolean;
}

export interface WriteOptions {
  fileName?: string;
  /** TFLite: post-training quantization (src/passes/quantize.ts) */
  quantize?: import('../passes/quantize.js').QuantizeOptions;
  /** TFLite: keep the model's NCHW inputs and outputs (a TRANSPOSE at each) instead of making them channels-last */
  keepNchwIo?: boolean;
  /** TFLite: int64 inputs and outputs (token ids, argmax) as int32 in the file, cast inside (what TFLite deployments feed) */
  int32Io?: boolean;
  /** ONNX: write tensors larger than this many bytes to an external data file */
  externalDataThreshold?: number;
  /** TF.js: the most bytes per weight shard (default 4 MiB) */
  shardSize?: number;
  /** TF.js model.json: a layers model (Keras layers; the default) or a graph model (TensorFlow ops, src/formats/tfjs/write-graph.ts) */
  tfjsFormat?: 'layers' | 'graph';
  /** TF.js graph model: float32 weights stored as float16, or affine uint8 / uint16 (tensorflowjs_converter's --quantize_*) */
  tfjsQuantize?: 'float16' | 'uint8' | 'uint16';
  /** turn a quantized (QDQ) graph back into a float one first (src/passes/dequantize.ts) */
  dequantize?: boolean;
  /** Keras / TF.js: fold each BatchNormalization that directly follows a conv into it */
  foldBn?: boolean;
  /** Keras .h5 / .keras: write grouped convs as plain convs with block-diagonal kernels and dilated depthwise convs undilated with zero-spread kernels (TF.js runs them right; always so for TF.js) */
  expandGroupedConv?: boolean;
  /** extra files to write next to the output (external data, shards): relative name -> bytes */
  sidecars?: Map<string, Uint8Array>;
}

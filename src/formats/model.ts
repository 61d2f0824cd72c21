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
  | 'tfjs'
  | 'caffe-prototxt'
  | 'caffemodel'
  | 'pytorch-zip'
  | 'pytorch-legacy'
  | 'safetensors'
  | 'npy'
  | 'npz';

/** What reading a file gives: a computation graph, or (for checkpoints) named weights only. */
export type LoadedModel = GraphModel | WeightsModel;

export interface GraphModel {
  kind: 'graph';
  format: FormatId;
  graph: Graph;
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
}

export interface ReadOptions {
  /** file name, for error messages and relative paths */
  fileName?: string;
  /** read a file next to the model (ONNX external data, Caffe weights); rejects paths outside its folder */
  readSibling?: (relativePath: string) => Promise<Uint8Array>;
  /** container path to select in nested checkpoints (`--key`) */
  key?: string;
}

export interface WriteOptions {
  fileName?: string;
  /** ONNX: write tensors larger than this many bytes to an external data file */
  externalDataThreshold?: number;
  /** extra files to write next to the output (external data, shards): relative name -> bytes */
  sidecars?: Map<string, Uint8Array>;
}

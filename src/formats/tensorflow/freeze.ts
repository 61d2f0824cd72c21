// `nnport freeze`: a MetaGraph + checkpoint, or a SavedModel folder, written as one frozen
// GraphDef that TensorFlow's import_graph_def and OpenCV's readNetFromTensorflow accept.
import { UsageError } from '../../ir/errors.js';
import type { ReadOptions } from '../model.js';
import { siblingFiles } from './checkpoint.js';
import { detectSavedModel } from './detect.js';
import { encodeGraphDef, VARIABLE_OPS } from './freeze-graph.js';
import { decodeMetaGraph, decodeSavedModel, freezeMetaGraph, metaCheckpointFor, savedModelCheckpoint } from './meta-graph.js';

export interface FrozenGraph {
  /** the GraphDef's bytes */
  bytes: Uint8Array;
  nodes: number;
  /** variables replaced by constants */
  variables: number;
  inputs: string[];
  outputs: string[];
  signature?: string;
}

export async function freezeTensorFlow(bytes: Uint8Array, options: ReadOptions = {}): Promise<FrozenGraph> {
  const file = options.fileName ?? '<bytes>';
  const files = siblingFiles(options);
  const saved = /(^|[\\/])saved_model\.pb$/i.test(file) || detectSavedModel(bytes.subarray(0, 4096));
  const meta = saved ? decodeSavedModel(bytes, file) : decodeMetaGraph(bytes, file);
  if (!meta.graph_def) throw new UsageError(`'${file}' holds no graph to freeze`);
  const ckpt = saved ? await savedModelCheckpoint(files, file) : await metaCheckpointFor(meta, files, options.checkpoint, file);
  const frozen = await freezeMetaGraph(meta, ckpt, options, file);
  const variables = (meta.graph_def.node ?? []).filter((n) => VARIABLE_OPS.has(n.op ?? '') && frozen.graphDef.node!.some((m) => m.name === n.name)).length;
  return {
    bytes: encodeGraphDef(frozen.graphDef),
    nodes: frozen.graphDef.node!.length,
    variables,
    inputs: frozen.inputs,
    outputs: frozen.outputs,
    signature: frozen.signature,
  };
}

// Reading a frozen GraphDef (.pb) into the IR.
import type { Dim, Graph } from '../../ir/graph.js';
import type { GraphModel, ReadOptions, WeightsModel } from '../model.js';
import { constTensors, convertOrDescribe } from './describe.js';
import { decodeGraphDef, type GraphDef } from './graph-def.js';
import { bytesSource, decodeGraphDefLazily, fileByteSource, GRAPHDEF_LAZY_THRESHOLD } from './graph-def-lazy.js';
import { nodeListing } from './listings.js';
import { regularFileSize } from '../../io/files.js';
import { readModelFileBytes } from '../../io/read-file.js';
import { candidateOutputs, graphDefToIr } from './to-ir.js';
import { inlineFunctions, needsInlining } from './functions.js';
import { cutExampleInputs, exampleInputs } from './parse-example.js';

export interface GraphDefReadOptions extends ReadOptions {
  /** files above this many bytes are scanned node by node, not decoded as one protobuf (default: protobuf's 2 GiB limit) */
  lazyAbove?: number;
  /** in a lazy read, fields above this many bytes are scanned into (default 1 MiB) */
  lazyLargeField?: number;
}

export async function readGraphDef(bytes: Uint8Array, options: GraphDefReadOptions = {}): Promise<Graph> {
  const model = await readGraphDefModel(bytes, { ...options, describeOnly: false });
  return (model as GraphModel).graph;
}

/** The IR graph, and the GraphDef's own nodes (with devices, attributes, shapes) for inspect. */
export async function readGraphDefModel(bytes: Uint8Array, options: GraphDefReadOptions = {}): Promise<GraphModel | WeightsModel> {
  const file = options.fileName ?? '<bytes>';
  // over protobuf's limit: nodes scanned one by one, tensor_content left in the bytes until used
  const lazy = bytes.length > (options.lazyAbove ?? GRAPHDEF_LAZY_THRESHOLD);
  return graphDefModel(lazy ? decodeGraphDefLazily(bytesSource(bytes), file, { largeField: options.lazyLargeField }) : decodeGraphDef(bytes, file), file, options, lazy);
}

/**
 * Node: a frozen GraphDef file of any size read by positioned reads, never held whole: its nodes
 * are scanned one by one and each Const's tensor_content is read when the IR takes it.
 */
export async function readGraphDefFile(path: string, options: GraphDefReadOptions = {}): Promise<GraphModel | WeightsModel> {
  const src = fileByteSource(path);
  try {
    // awaited here: the tensors are read from the file before it is closed
    return await graphDefModel(decodeGraphDefLazily(src, path, { largeField: options.lazyLargeField }), options.fileName ?? path, options, true);
  } finally {
    src.close();
  }
}

/**
 * Node (loadModelFiles, so every CLI command): a GraphDef file by path. Over `lazyAbove`
 * (protobuf's 2 GiB limit) it is read by positioned reads and never held whole
 * (readGraphDefFile); a smaller one is read whole, which is faster and keeps every Const by name
 * for transplant.
 */
export async function readGraphDefPath(path: string, options: GraphDefReadOptions = {}): Promise<GraphModel | WeightsModel> {
  if (regularFileSize(path) > (options.lazyAbove ?? GRAPHDEF_LAZY_THRESHOLD)) return readGraphDefFile(path, options);
  return readGraphDefModel(await readModelFileBytes(path), { ...options, fileName: options.fileName ?? path });
}

async function graphDefModel(decoded: GraphDef, file: string, options: ReadOptions, lazy = false): Promise<GraphModel | WeightsModel> {
  const shapes = new Map<string, (Dim[] | undefined)[]>();
  return convertOrDescribe(
    () => {
      // a graph traced from tf.function calls its function library: inline what the outputs need
      const gd = needsInlining(decoded)
        ? inlineFunctions(decoded, { file, roots: options.outputs?.length ? options.outputs : candidateOutputs(decoded.node ?? []) }).graphDef
        : decoded;
      // a serving graph's serialized tf.Example input: cut at the ParseExample's dense features
      // (the outputs are the uncut graph's, which still reads the features)
      const examples = exampleInputs(gd);
      const outputs = examples.length && !options.outputs?.length ? candidateOutputs(gd.node ?? []) : options.outputs;
      const cut = examples.length ? cutExampleInputs(gd, examples, file).graphDef : gd;
      const graph = graphDefToIr(cut, { file, outputs, inputShapes: options.inputShapes, set: options.set, name: baseName(file), shapes });
      const model: GraphModel = { kind: 'graph', format: 'tf-graphdef', graph, listings: [nodeListing(gd, shapes)] };
      // the Consts by name for transplant; a lazily read graph (> 2 GiB) keeps only what the IR took
      if (!lazy) model.sourceWeights = constTensors(gd, file, true);
      return model;
    },
    decoded,
    options,
    'tf-graphdef',
    file,
  );
}

function baseName(file: string): string {
  return file.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '') || 'tensorflow';
}

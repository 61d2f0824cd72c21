// Reading a frozen GraphDef (.pb) into the IR.
import type { Dim, Graph } from '../../ir/graph.js';
import type { GraphModel, ReadOptions, WeightsModel } from '../model.js';
import { constTensors, convertOrDescribe } from './describe.js';
import { decodeGraphDef } from './graph-def.js';
import { nodeListing } from './listings.js';
import { candidateOutputs, graphDefToIr } from './to-ir.js';
import { inlineFunctions, needsInlining } from './functions.js';

export async function readGraphDef(bytes: Uint8Array, options: ReadOptions = {}): Promise<Graph> {
  const model = await readGraphDefModel(bytes, { ...options, describeOnly: false });
  return (model as GraphModel).graph;
}

/** The IR graph, and the GraphDef's own nodes (with devices, attributes, shapes) for inspect. */
export async function readGraphDefModel(bytes: Uint8Array, options: ReadOptions = {}): Promise<GraphModel | WeightsModel> {
  const file = options.fileName ?? '<bytes>';
  const decoded = decodeGraphDef(bytes, file);
  const shapes = new Map<string, (Dim[] | undefined)[]>();
  return convertOrDescribe(
    () => {
      // a graph traced from tf.function calls its function library: inline what the outputs need
      const gd = needsInlining(decoded)
        ? inlineFunctions(decoded, { file, roots: options.outputs?.length ? options.outputs : candidateOutputs(decoded.node ?? []) }).graphDef
        : decoded;
      const graph = graphDefToIr(gd, { file, outputs: options.outputs, inputShapes: options.inputShapes, set: options.set, name: baseName(file), shapes });
      return { kind: 'graph', format: 'tf-graphdef', graph, listings: [nodeListing(gd, shapes)], sourceWeights: constTensors(gd, file, true) } satisfies GraphModel;
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

// Reading a frozen GraphDef (.pb) into the IR.
import type { Dim, Graph } from '../../ir/graph.js';
import type { GraphModel, ReadOptions } from '../model.js';
import { decodeGraphDef } from './graph-def.js';
import { nodeListing } from './listings.js';
import { graphDefToIr } from './to-ir.js';

export async function readGraphDef(bytes: Uint8Array, options: ReadOptions = {}): Promise<Graph> {
  return (await readGraphDefModel(bytes, options)).graph;
}

/** The IR graph, and the GraphDef's own nodes (with devices, attributes, shapes) for inspect. */
export async function readGraphDefModel(bytes: Uint8Array, options: ReadOptions = {}): Promise<GraphModel> {
  const file = options.fileName ?? '<bytes>';
  const gd = decodeGraphDef(bytes, file);
  const shapes = new Map<string, (Dim[] | undefined)[]>();
  const graph = graphDefToIr(gd, { file, outputs: options.outputs, inputShapes: options.inputShapes, set: options.set, name: baseName(file), shapes });
  return { kind: 'graph', format: 'tf-graphdef', graph, listings: [nodeListing(gd, shapes)] };
}

function baseName(file: string): string {
  return file.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '') || 'tensorflow';
}

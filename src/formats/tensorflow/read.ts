// Reading a frozen GraphDef (.pb) into the IR.
import type { Graph } from '../../ir/graph.js';
import type { ReadOptions } from '../model.js';
import { decodeGraphDef } from './graph-def.js';
import { graphDefToIr } from './to-ir.js';

export async function readGraphDef(bytes: Uint8Array, options: ReadOptions = {}): Promise<Graph> {
  const file = options.fileName ?? '<bytes>';
  const gd = decodeGraphDef(bytes, file);
  return graphDefToIr(gd, { file, outputs: options.outputs, inputShapes: options.inputShapes, set: options.set, name: baseName(file) });
}

function baseName(file: string): string {
  return file.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '') || 'tensorflow';
}

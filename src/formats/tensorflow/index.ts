import type { FormatHandler } from '../registry.js';
import { detectCheckpointIndex, detectGraphDef, detectMetaGraphDef, detectSavedModel } from './detect.js';
import { readGraphDefModel, readGraphDefPath } from './read.js';
import { writeGraphDef } from './write.js';
import { UsageError } from '../../ir/errors.js';
import { readCheckpointIndex } from './checkpoint.js';
import { readMetaGraphFile, readSavedModelFile } from './meta-graph.js';
import { detectTfjsGraph, readTfjsGraph } from './tfjs-graph.js';

export { readGraphDef, readGraphDefFile, readGraphDefPath, type GraphDefReadOptions } from './read.js';
export { writeGraphDef } from './write.js';
export { detectTfjsGraph, readTfjsGraph } from './tfjs-graph.js';
export { freezeTensorFlow, type FrozenGraph } from './freeze.js';
export { readCheckpointIndex, isOptimizerSlot } from './checkpoint.js';
export { detectCheckpointIndex, detectGraphDef, detectMetaGraphDef, detectSavedModel } from './detect.js';

export const tfGraphDefFormat: FormatHandler = {
  id: 'tf-graphdef',
  ownInputShapes: true,
  title: 'TensorFlow GraphDef',
  extensions: ['.pb', '.graphdef'],
  detect: detectGraphDef,
  read: readGraphDefModel,
  readFile: readGraphDefPath,
  // an If / Loop of run-time condition or trip count: StatelessIf / StatelessWhile over library functions (write-functions.ts)
  writesControlFlow: () => true,
  write: async (model, options) => {
    if (model.kind !== 'graph') throw new UsageError(`a ${model.format} file holds weights only; a GraphDef needs a graph`);
    return writeGraphDef(model.graph, options);
  },
};

export const tfCheckpointMetaFormat: FormatHandler = {
  id: 'tf-checkpoint-meta',
  ownInputShapes: true,
  title: 'TensorFlow checkpoint MetaGraphDef',
  extensions: ['.meta'],
  detect: detectMetaGraphDef,
  read: readMetaGraphFile,
};

export const tfCheckpointIndexFormat: FormatHandler = {
  id: 'tf-checkpoint-index',
  ownInputShapes: true,
  title: 'TensorFlow checkpoint index',
  extensions: ['.index'],
  detect: detectCheckpointIndex,
  read: readCheckpointIndex,
};

export const tfSavedModelFormat: FormatHandler = {
  id: 'tf-saved-model',
  ownInputShapes: true,
  title: 'TensorFlow SavedModel',
  extensions: ['saved_model.pb'],
  detect: detectSavedModel,
  read: readSavedModelFile,
};

export const tfjsGraphFormat: FormatHandler = {
  id: 'tfjs-graph',
  ownInputShapes: true,
  title: 'TensorFlow.js graph model',
  extensions: ['.json'],
  detect: detectTfjsGraph,
  read: readTfjsGraph,
};

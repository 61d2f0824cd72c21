import type { FormatHandler } from '../registry.js';
import { detectTfjs } from './detect.js';
import { readTfjsLayers } from './read.js';
import { writeTfjsLayers } from './write.js';

export { detectTfjs } from './detect.js';
export { readTfjsLayers } from './read.js';
export { writeTfjsLayers, DEFAULT_SHARD_SIZE } from './write.js';

export const tfjsFormat: FormatHandler = {
  id: 'tfjs',
  title: 'TensorFlow.js model',
  extensions: ['.json'],
  detect: detectTfjs,
  read: readTfjsLayers,
  write: writeTfjsLayers,
};
export { writeTfjsGraph, DEFAULT_GRAPH_SHARD_SIZE, type TfjsWeightQuantization } from './write-graph.js';

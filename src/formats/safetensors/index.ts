import type { WeightsModel } from '../model.js';
import type { FormatHandler } from '../registry.js';
import { detectSafetensors } from './detect.js';
import { readSafetensorsModel } from './read.js';
import { writeSafetensors } from './write.js';

export { detectSafetensors } from './detect.js';
export { readSafetensors, readSafetensorsModel, type SafetensorsFile } from './read.js';
export { writeSafetensors } from './write.js';

export const safetensorsFormat: FormatHandler = {
  id: 'safetensors',
  title: 'safetensors weights',
  extensions: ['.safetensors'],
  detect: (head) => detectSafetensors(head),
  read: async (bytes, options) => readSafetensorsModel(bytes, options.fileName),
  write: async (model) => {
    // a graph's weights are its initializers
    if (model.kind === 'graph') return writeSafetensors(model.graph.initializers);
    return writeSafetensors(model.tensors, (model as WeightsModel).metadata);
  },
};

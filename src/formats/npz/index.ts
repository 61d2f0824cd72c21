import type { FormatHandler } from '../registry.js';
import { detectNpz } from './detect.js';
import { readNpzModel } from './read.js';
import { writeNpz } from './write.js';

export { readNpz, readNpzModel } from './read.js';
export { writeNpz } from './write.js';

export const npzFormat: FormatHandler = {
  id: 'npz',
  title: 'NumPy .npz archive',
  extensions: ['.npz'],
  detect: (head, fileName) => detectNpz(head, fileName),
  read: async (bytes, options) => readNpzModel(bytes, options.fileName),
  write: async (model) => {
    return writeNpz(model.kind === 'graph' ? model.graph.initializers : model.tensors);
  },
};

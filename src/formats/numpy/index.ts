// NumPy's own files: a single array (.npy) and a zip of arrays (.npz), one format folder
// because an .npz is nothing but named .npy files.
import type { FormatHandler } from '../registry.js';
import { detectNpy } from './npy-detect.js';
import { readNpy } from './npy-read.js';
import { writeNpy } from './npy-write.js';
import { detectNpz } from './npz-detect.js';
import { readNpzModel } from './npz-read.js';
import { writeNpz } from './npz-write.js';

export { detectNpy, readNpy, writeNpy, writeNpz };
export { readNpz, readNpzModel } from './npz-read.js';

/** A single NumPy array, shown as one weight named after the file. */
export const npyFormat: FormatHandler = {
  id: 'npy',
  title: 'NumPy array',
  extensions: ['.npy'],
  detect: (head) => detectNpy(head),
  async read(bytes, options) {
    const name = (options.fileName ?? 'array').replace(/^.*[\\/]/, '').replace(/\.npy$/i, '');
    return { kind: 'weights', format: 'npy', tensors: new Map([[name, readNpy(bytes, options.fileName)]]) };
  },
};

/** Named arrays (np.savez): read as weights, written from a model's weights. */
export const npzFormat: FormatHandler = {
  id: 'npz',
  title: 'NumPy .npz archive',
  extensions: ['.npz'],
  detect: (head, fileName) => detectNpz(head, fileName),
  read: async (bytes, options) => readNpzModel(bytes, options.fileName),
  write: async (model) => writeNpz(model.kind === 'graph' ? model.graph.initializers : model.tensors),
};

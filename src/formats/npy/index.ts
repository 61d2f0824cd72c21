import type { FormatHandler } from '../registry.js';
import { detectNpy } from './detect.js';
import { readNpy } from './read.js';
import { writeNpy } from './write.js';

export { detectNpy, readNpy, writeNpy };

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

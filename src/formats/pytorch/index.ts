import type { FormatHandler } from '../registry.js';
import { detectPytorchLegacy, detectPytorchZip } from './detect.js';
import { readPytorch } from './read.js';

export { readPytorch, readPytorchZip, type PytorchReadOptions } from './read.js';
export { readPytorchLegacy } from './legacy.js';

export const pytorchZipFormat: FormatHandler = {
  id: 'pytorch-zip',
  title: 'PyTorch checkpoint (zip)',
  extensions: ['.pth', '.pt', '.ckpt', '.bin'],
  detect: (head, fileName) => detectPytorchZip(head, fileName),
  read: async (bytes, options) => readPytorch(bytes, options),
};

export const pytorchLegacyFormat: FormatHandler = {
  id: 'pytorch-legacy',
  title: 'PyTorch checkpoint (legacy)',
  extensions: ['.pth', '.pt', '.ckpt', '.bin'],
  detect: (head) => detectPytorchLegacy(head),
  read: async (bytes, options) => readPytorch(bytes, options),
};

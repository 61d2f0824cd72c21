import type { FormatHandler } from '../registry.js';
import { detectTflite } from './detect.js';
import { readTflite } from './read.js';

export { detectTflite } from './detect.js';
export { readTflite } from './read.js';

export const tfliteFormat: FormatHandler = {
  id: 'tflite',
  title: 'TFLite model',
  extensions: ['.tflite'],
  detect: detectTflite,
  async read(bytes, options) {
    return { kind: 'graph', format: 'tflite', graph: await readTflite(bytes, options) };
  },
};

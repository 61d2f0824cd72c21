import type { FormatHandler } from '../registry.js';
import { detectTfjs } from './detect.js';

export { detectTfjs } from './detect.js';

export const tfjsFormat: FormatHandler = {
  id: 'tfjs',
  title: 'TensorFlow.js model',
  extensions: ['.json'],
  detect: detectTfjs,
};

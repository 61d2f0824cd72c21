import type { FormatHandler } from '../registry.js';
import { detectTflite } from './detect.js';

export { detectTflite } from './detect.js';

export const tfliteFormat: FormatHandler = {
  id: 'tflite',
  title: 'TFLite model',
  extensions: ['.tflite'],
  detect: detectTflite,
};

import type { FormatHandler } from '../registry.js';
import { detectCaffemodel, detectCaffePrototxt } from './detect.js';

export { detectCaffemodel, detectCaffePrototxt } from './detect.js';

export const caffePrototxtFormat: FormatHandler = {
  id: 'caffe-prototxt',
  title: 'Caffe prototxt',
  extensions: ['.prototxt', '.pbtxt'],
  detect: detectCaffePrototxt,
};

export const caffemodelFormat: FormatHandler = {
  id: 'caffemodel',
  title: 'Caffe model weights',
  extensions: ['.caffemodel'],
  detect: detectCaffemodel,
};

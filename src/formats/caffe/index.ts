import type { FormatHandler } from '../registry.js';
import { detectCaffemodel, detectCaffePrototxt } from './detect.js';
import { readCaffemodel, readCaffePrototxt } from './read.js';

export { detectCaffemodel, detectCaffePrototxt } from './detect.js';
export { buildCaffeGraph, missingCaffeWeights, readCaffemodel, refuseCaffeDetectionOutput, requireCaffeWeights, readCaffeNetBinary, readCaffeNetText, readCaffePrototxt } from './read.js';
export { parsePrototxt } from './prototxt.js';
export { decodeCaffeBinary } from './wire.js';

export const caffePrototxtFormat: FormatHandler = {
  id: 'caffe-prototxt',
  ownInputShapes: true,
  title: 'Caffe prototxt',
  extensions: ['.prototxt', '.pbtxt'],
  detect: detectCaffePrototxt,
  read: readCaffePrototxt,
};

export const caffemodelFormat: FormatHandler = {
  id: 'caffemodel',
  ownInputShapes: true,
  title: 'Caffe model weights',
  extensions: ['.caffemodel'],
  detect: detectCaffemodel,
  read: readCaffemodel,
};

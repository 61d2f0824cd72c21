import { UsageError } from '../../ir/errors.js';
import type { FormatHandler } from '../registry.js';
import { detectTflite } from './detect.js';
import { readTflite } from './read.js';
import { writeTflite } from './write.js';

export { detectTflite } from './detect.js';
export { readTflite } from './read.js';
export { prepareForTflite, serializeTflite, writeTflite, type TfliteWriteOptions } from './write.js';

export const tfliteFormat: FormatHandler = {
  id: 'tflite',
  title: 'TFLite model',
  extensions: ['.tflite'],
  detect: detectTflite,
  async read(bytes, options) {
    return { kind: 'graph', format: 'tflite', graph: await readTflite(bytes, options) };
  },
  // run-time If / Loop become IF / WHILE subgraphs (writeTflite refuses them with integer --quantize modes, by name)
  writesControlFlow: () => true,
  async write(model, options) {
    if (model.kind !== 'graph') {
      throw new UsageError(`a TFLite file needs a computation graph; '${model.format}' input holds only weights (use transplant to put them into a model)`);
    }
    return writeTflite(model.graph, { fileName: options.fileName, quantize: options.quantize, keepNchwIo: options.keepNchwIo, int32Io: options.int32Io });
  },
};

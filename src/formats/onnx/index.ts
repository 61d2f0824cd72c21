import { UsageError } from '../../ir/errors.js';
import type { FormatHandler } from '../registry.js';
import { detectOnnx } from './detect.js';
import { readOnnx } from './read.js';
import { writeOnnx } from './write.js';

export { detectOnnx } from './detect.js';
export { readOnnx, readTensorProto } from './read.js';
export { readValueProto } from './value-proto.js';
export { irVersionForOpset, writeOnnx } from './write.js';

export const onnxFormat: FormatHandler = {
  id: 'onnx',
  title: 'ONNX model',
  extensions: ['.onnx'],
  detect: detectOnnx,
  async read(bytes, options) {
    return { kind: 'graph', format: 'onnx', graph: await readOnnx(bytes, options) };
  },
  async write(model, options) {
    if (model.kind !== 'graph') {
      throw new UsageError(`an ONNX file needs a computation graph; '${model.format}' input holds only weights (use transplant to put them into a model)`);
    }
    return writeOnnx(model.graph, options);
  },
};

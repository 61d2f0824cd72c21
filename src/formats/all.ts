// Every format nnport knows, most specific detectors first.
// Adding a format = one import and one entry in FORMATS.
import { caffemodelFormat, caffePrototxtFormat } from './caffe/index.js';
import { kerasH5Format, kerasV3Format } from './keras/index.js';
import { npyFormat, npzFormat } from './numpy/index.js';
import { pytorchLegacyFormat, pytorchZipFormat } from './pytorch/index.js';
import { safetensorsFormat } from './safetensors/index.js';
import { onnxFormat } from './onnx/index.js';
import { registerFormat, type FormatHandler } from './registry.js';
import { tfCheckpointIndexFormat, tfCheckpointMetaFormat, tfGraphDefFormat, tfjsGraphFormat, tfSavedModelFormat } from './tensorflow/index.js';
import { tfjsFormat } from './tfjs/index.js';
import { tfliteFormat } from './tflite/index.js';

export const FORMATS: FormatHandler[] = [
  onnxFormat,
  tfliteFormat,
  kerasH5Format,
  kerasV3Format,
  tfSavedModelFormat,
  tfCheckpointMetaFormat,
  tfGraphDefFormat,
  tfCheckpointIndexFormat,
  caffemodelFormat,
  caffePrototxtFormat,
  tfjsGraphFormat,
  tfjsFormat,
  pytorchZipFormat,
  pytorchLegacyFormat,
  npzFormat,
  safetensorsFormat,
  npyFormat,
];

let registered = false;
export function registerAllFormats(): void {
  if (registered) return;
  registered = true;
  for (const h of FORMATS) registerFormat(h);
}

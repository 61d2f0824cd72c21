// Every format nnport knows, most specific detectors first.
// Adding a format = one import and one entry in FORMATS.
import { npyFormat } from './npy/index.js';
import { npzFormat } from './npz/index.js';
import { pytorchLegacyFormat, pytorchZipFormat } from './pytorch/index.js';
import { safetensorsFormat } from './safetensors/index.js';
import { registerFormat, type FormatHandler } from './registry.js';

export const FORMATS: FormatHandler[] = [
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

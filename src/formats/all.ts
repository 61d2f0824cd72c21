// Registers every format with the registry, most specific detectors first.
// Adding a format = one import and one registerFormat line here.
import { registerFormat } from './registry.js';

export function registerAllFormats(): void {
  void registerFormat;
}

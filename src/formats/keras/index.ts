import { firstZipEntryName, isZip } from '../../io/zip.js';
import type { FormatHandler } from '../registry.js';
import { detectHdf5 } from './detect.js';
import { readKerasH5, readKerasV3 } from './read.js';
import { writeKerasH5, writeKerasH5File, writeKerasV3 } from './write.js';

export { detectHdf5 } from './detect.js';
export { readKerasH5, readKerasV3 } from './read.js';
export { writeKerasH5, writeKerasH5File, writeKerasV3 } from './write.js';

export const kerasH5Format: FormatHandler = {
  id: 'keras-h5',
  title: 'Keras HDF5 model',
  extensions: ['.h5', '.hdf5'],
  detect: detectHdf5,
  read: readKerasH5,
  write: writeKerasH5,
  writeFile: writeKerasH5File,
};

/** Keras 3 writes metadata.json, config.json, model.weights.h5 into a stored zip, in that order. */
export function detectKerasV3(head: Uint8Array): boolean {
  if (!isZip(head)) return false;
  const first = firstZipEntryName(head);
  return first === 'metadata.json' || first === 'config.json' || first === 'model.weights.h5';
}

export const kerasV3Format: FormatHandler = {
  id: 'keras-v3',
  title: 'Keras 3 model (.keras)',
  extensions: ['.keras'],
  detect: detectKerasV3,
  read: readKerasV3,
  write: writeKerasV3,
};

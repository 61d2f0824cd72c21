import type { FormatHandler } from '../registry.js';
import { detectHdf5 } from './detect.js';

export { detectHdf5 } from './detect.js';

export const kerasH5Format: FormatHandler = {
  id: 'keras-h5',
  title: 'Keras HDF5 model',
  extensions: ['.h5', '.hdf5', '.keras'],
  detect: detectHdf5,
};

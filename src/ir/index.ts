export * from './dtypes.js';
export * from './errors.js';
export * from './float16.js';
export * from './graph.js';
export * from './tensor.js';
export * from './validate.js';

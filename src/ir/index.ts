export * from './dtypes.js';
export * from './errors.js';
export * from './float16.js';
export * from './graph.js';
export * from './tensor.js';
export * from './validate.js';
export { OP_DEFS, opDefOf, opKey, opsetOf, inferShapes, defineOpDef } from './ops/index.js';
export type { InferShapesOptions, ShapeInference, OpDef, OpDefTable, InferContext, LayoutClass, ValueType } from './ops/index.js';
export * from './budget.js';

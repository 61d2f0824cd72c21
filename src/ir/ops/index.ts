// Op definitions (attributes, shape and dtype inference, layout class) and inferShapes.
export { OP_DEFS, domainOf, opKey, opDefOf, opsetOf } from './registry.js';
export * from './op-def.js';
export { castDefs, dtypeFromOnnxEnum, castData, type CastAttrs } from './cast.js';
export * from './conv.js';
export * from './pool.js';
export * from './gemm.js';
export * from './normalization.js';
export * from './shape.js';
export * from './indexing.js';
export * from './reduce.js';
export * from './resize.js';
export * from './quantize.js';
export * from './unary.js';
export * from './recurrent.js';
export * from './detection.js';
export { elementwiseDefs, legacyBroadcastAttrs, type BinaryAttrs } from './elementwise.js';
export * from './channels-last.js';
export * from './infer.js';

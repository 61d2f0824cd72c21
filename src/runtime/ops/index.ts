import type { OpTable } from '../op.js';

/**
 * Every op the reference runtime executes, keyed by ONNX op type (default domain).
 * Each module contributes one table; a name must appear in exactly one of them.
 */
const tables: OpTable[] = [];

export const ONNX_OPS: OpTable = Object.assign({}, ...tables);

// The `requantization` attribute islands.ts sets on the integer ops whose rounding differs
// between TFLite's reference kernels and the interpreter's XNNPACK delegate (IntegerOptions).
import { UnsupportedError } from '../../ir/errors.js';
import { attrString, type Node } from '../../ir/graph.js';

/** Whether the node requantizes as the interpreter's XNNPACK path ('xnnpack') rather than TFLite's reference kernels. */
export const requantizationOf = (node: Node): boolean => {
  const r = attrString(node, 'requantization', 'reference');
  if (r !== 'reference' && r !== 'xnnpack') throw new UnsupportedError(`requantization '${r}'`, "use 'reference' (TFLite's reference kernels) or 'xnnpack' (its XNNPACK delegate)");
  return r === 'xnnpack';
};

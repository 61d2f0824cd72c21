// The `requantization` attribute islands.ts sets on the integer ops whose rounding differs
// between TFLite's reference kernels, the interpreter's XNNPACK delegate and its builtin
// (optimized) kernels (IntegerOptions).
import { UnsupportedError } from '../../ir/errors.js';
import { attrString, type Node } from '../../ir/graph.js';

export type Requantization = 'reference' | 'xnnpack' | 'builtin';

/** The modes, as IntegerOptions.requantization and the CLI's --requantization take them. */
export const REQUANTIZATION_MODES: readonly Requantization[] = ['reference', 'xnnpack', 'builtin'];

/** The node's requantization mode. */
export const requantizationModeOf = (node: Node): Requantization => {
  const r = attrString(node, 'requantization', 'reference');
  if (!(REQUANTIZATION_MODES as readonly string[]).includes(r)) throw new UnsupportedError(`requantization '${r}'`, "use 'reference' (TFLite's reference kernels), 'xnnpack' (its XNNPACK delegate) or 'builtin' (its builtin kernels)");
  return r as Requantization;
};

/** Whether the node requantizes as the interpreter's XNNPACK path ('xnnpack') rather than TFLite's fixed point. */
export const requantizationOf = (node: Node): boolean => requantizationModeOf(node) === 'xnnpack';

// `inspect` of a TensorFlow graph that nnport cannot convert yet (ops outside its table, random
// values): the graph's own nodes and Const weights are still shown, with the reason, so a user
// sees what is inside before asking for the missing ops.
import { isFloatDType } from '../../ir/dtypes.js';
import { NnportError, UnsupportedError } from '../../ir/errors.js';
import type { Tensor } from '../../ir/tensor.js';
import type { FormatId, Listing, ReadOptions, WeightsModel } from '../model.js';
import { NodeAttrs, type GraphDef } from './graph-def.js';
import { nodeListing } from './listings.js';

/** Run `toIr`; with options.describeOnly, an UnsupportedError becomes a description of the graph. */
export async function convertOrDescribe<T>(
  toIr: () => T | Promise<T>,
  gd: GraphDef,
  options: ReadOptions,
  format: FormatId,
  file: string,
  more: () => Listing[] = () => [],
): Promise<T | WeightsModel> {
  try {
    return await toIr();
  } catch (e) {
    if (!options.describeOnly || !(e instanceof UnsupportedError)) throw e;
    return describeGraphDef(gd, e, format, file, more());
  }
}

export function describeGraphDef(gd: GraphDef, reason: NnportError, format: FormatId, file: string, more: Listing[]): WeightsModel {
  return {
    kind: 'weights',
    format,
    tensors: constTensors(gd, file),
    metadata: { 'not convertible': reason.message },
    listings: [nodeListing(gd), ...more],
  };
}

/**
 * The graph's Const tensors by node name (only floating-point ones with `floatOnly`, the
 * weights a transplant takes). A Const whose tensor is malformed is left out here; the node
 * table still shows it, and converting the graph names the error.
 */
export function constTensors(gd: GraphDef, file: string, floatOnly = false): Map<string, Tensor> {
  const tensors = new Map<string, Tensor>();
  for (const n of gd.node ?? []) {
    if (n.op !== 'Const') continue;
    try {
      const t = new NodeAttrs(n, file).tensor('value');
      if (!floatOnly || isFloatDType(t.dtype)) tensors.set(n.name ?? '', t);
    } catch (e) {
      if (!(e instanceof NnportError)) throw e;
    }
  }
  return tensors;
}

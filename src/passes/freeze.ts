// Freezing a TensorFlow 1 model: a MetaGraph (.meta) with its checkpoint, or a SavedModel, into
// one frozen GraphDef. The work is TensorFlow-specific and lives with that format
// (src/formats/tensorflow/freeze-graph.ts); this is the library's entry point.
import { freezeTensorFlow, type FrozenGraph } from '../formats/tensorflow/index.js';
import type { ReadOptions } from '../formats/model.js';

export type { FrozenGraph };

export interface FreezeOptions {
  /** output nodes; without them (and without a signature) the error lists candidates */
  outputs?: string[];
  /** checkpoint prefix (relative to the model's folder) for a .meta; default: the folder's `checkpoint` file */
  checkpoint?: string;
  /** placeholders replaced by constants, e.g. { keep_prob: 1 } */
  set?: Record<string, number>;
  /** SavedModel/MetaGraph signature giving inputs and outputs (default serving_default) */
  signature?: string;
}

/** Freeze `bytes` (a .meta or saved_model.pb); companion files come through `read.files` / `read.readSibling`. */
export async function freeze(bytes: Uint8Array, options: FreezeOptions & Pick<ReadOptions, 'fileName' | 'files' | 'readSibling'> = {}): Promise<FrozenGraph> {
  return freezeTensorFlow(bytes, options);
}

// The wire-level tally that guards protobuf decoding must see the messages the decoder builds:
// for real models, its message count equals the number of message objects protobufjs makes, so
// the field sketches (onnx/wire-schema.ts, tensorflow/wire-schema.ts) match the schemas.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { onnx } from '../../../src/formats/generated/onnx.js';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { MODEL } from '../../../src/formats/onnx/wire-schema.js';
import { tallyMessage, type WireSchema } from '../../../src/formats/protobuf-peek.js';
import { GRAPH_DEF, SAVED_MODEL } from '../../../src/formats/tensorflow/wire-schema.js';
import { corpusPath } from '../../support/corpus.js';

/** Message objects in a decoded tree (protobufjs messages are instances of their generated class). */
function countMessages(v: unknown): number {
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return 0;
  if ('low' in v && 'high' in v && 'unsigned' in v) return 0; // an int64 as a Long: a number, not a message
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + countMessages(x), 0);
  // a map field decodes to a plain object; on the wire each value is one entry message
  if (Object.getPrototypeOf(v) === Object.prototype) return Object.values(v).reduce((n: number, x) => n + 1 + countMessages(x), 0);
  return 1 + Object.values(v).reduce((n: number, x) => n + countMessages(x), 0);
}

const cases: Array<[string, string, WireSchema, (b: Uint8Array) => unknown]> = [
  ['ONNX seg_head', 'test/fixtures/models/seg_head/model.onnx', MODEL, (b) => onnx.ModelProto.decode(b)],
  ['ONNX LeNet', 'examples/lenet/model.onnx', MODEL, (b) => onnx.ModelProto.decode(b)],
  ['GraphDef', corpusPath('tf-graphdef/tensorspace-mnist-conv/frozen_model.pb'), GRAPH_DEF, (b) => tensorflow.GraphDef.decode(b)],
  ['SavedModel', corpusPath('tf-checkpoint/tensorspace-mnist-savedmodel/saved_model.pb'), SAVED_MODEL, (b) => tensorflow.SavedModel.decode(b)],
];

describe('guardProtobufDecode: the wire tally sees what the decoder builds', () => {
  for (const [what, path, schema, decode] of cases) {
    it(`${what}: the same number of messages`, () => {
      const bytes = new Uint8Array(readFileSync(path));
      const t = tallyMessage(bytes, schema, { maxRank: 64, maxDepth: 400 });
      expect(t.overRank).toBeUndefined();
      expect(t.tooDeep).toBeUndefined();
      expect(t.messages).toBe(countMessages(decode(bytes)));
    });
  }
});

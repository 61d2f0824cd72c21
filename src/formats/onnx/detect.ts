// Is this an ONNX model? Decided from the first protobuf fields of a ModelProto.
import { hasExtension, isPrintableText, payload, peekFields, WIRE_LEN, WIRE_VARINT } from '../protobuf-peek.js';

/** ModelProto's top-level fields and their wire types (proto/onnx.proto). */
const MODEL_FIELDS: ReadonlyMap<number, number> = new Map([
  [1, WIRE_VARINT], // ir_version
  [2, WIRE_LEN], // producer_name
  [3, WIRE_LEN], // producer_version
  [4, WIRE_LEN], // domain
  [5, WIRE_VARINT], // model_version
  [6, WIRE_LEN], // doc_string
  [7, WIRE_LEN], // graph
  [8, WIRE_LEN], // opset_import
  [14, WIRE_LEN], // metadata_props
  [20, WIRE_LEN], // training_info
  [25, WIRE_LEN], // functions
]);

/** Short one-line strings: a producer name that is binary or kilobytes long is some other message. */
const SHORT_STRINGS = new Set([2, 3, 4]);
const MAX_IR_VERSION = 64;

/**
 * Every writer (onnx's C++ and Python, PyTorch, protobufjs in schema order) puts ir_version
 * first, so a file starting with a small ir_version followed only by ModelProto fields of the
 * right wire types is ONNX. That already rules out TFLite (no valid first tag), GraphDef,
 * MetaGraphDef and caffemodel (first field a LEN field), a TensorProto (field 2 as a varint) and
 * a SavedModel (field 2 holds a binary message, not a short producer name). Files that lack a
 * leading ir_version are accepted only with an .onnx extension and a graph or opset field.
 */
export function detectOnnx(head: Uint8Array, fileName?: string): boolean {
  const fields = peekFields(head, 32);
  if (!fields.length) return false;
  const seen = new Set<number>();
  for (const f of fields) {
    if (MODEL_FIELDS.get(f.field) !== f.wire) return false;
    if (f.field === 1 && (seen.has(1) || f.value === undefined || f.value < 1 || f.value > MAX_IR_VERSION)) return false;
    if (SHORT_STRINGS.has(f.field) && ((f.length ?? 0) > 1024 || !isPrintableText(payload(head, f), false, !f.complete))) return false;
    if (f.field === 6 && !isPrintableText(payload(head, f), true, !f.complete)) return false;
    seen.add(f.field);
  }
  if (fields[0]!.field === 1) return true;
  return hasExtension(fileName, ['.onnx']) && (seen.has(7) || seen.has(8));
}

// Caffe: a NetParameter, as protobuf text (.prototxt) or binary (.caffemodel).
import { hasExtension, isPrintableText, payload, peekFields, WIRE_LEN, WIRE_VARINT } from '../protobuf-peek.js';

/** NetParameter's top-level field names (caffe.proto), the words a prototxt can start with. */
const NET_KEYS = new Set(['name', 'input', 'input_shape', 'input_dim', 'force_backward', 'state', 'debug_info', 'layer', 'layers']);

/**
 * A prototxt: printable text whose first key (after comments) is a NetParameter field and that
 * declares layers or inputs. A solver prototxt (`net:`, `base_lr:`) or a TF pbtxt (`node {`) is not.
 */
export function detectCaffePrototxt(head: Uint8Array): boolean {
  if (!isPrintableText(head, true, true)) return false;
  const text = new TextDecoder('utf-8').decode(head).replace(/^\uFEFF/, '');
  const body = text.replace(/#[^\n]*/g, '');
  const first = /^\s*([A-Za-z_]\w*)\s*[:{]/.exec(body);
  if (!first || !NET_KEYS.has(first[1]!)) return false;
  return /(^|\n)\s*(layers?\s*\{|input\s*:|input_dim\s*:|input_shape\s*\{)/.test(body);
}

/** NetParameter's binary fields and wire types: 1 name, 2 layers (V1), 3 input, 4 input_dim, 5 force_backward, 6 state, 7 debug_info, 8 input_shape, 100 layer. */
const NET_FIELDS: ReadonlyMap<number, number[]> = new Map([
  [1, [WIRE_LEN]],
  [2, [WIRE_LEN]],
  [3, [WIRE_LEN]],
  [4, [WIRE_VARINT, WIRE_LEN]],
  [5, [WIRE_VARINT]],
  [6, [WIRE_LEN]],
  [7, [WIRE_VARINT]],
  [8, [WIRE_LEN]],
  [100, [WIRE_LEN]],
]);

/**
 * A caffemodel starts with the net's name (field 1, printable) and then layers (field 2 or
 * 100) or inputs. A GraphDef also starts with field 1 LEN, but holds a NodeDef message there
 * (binary, starting with its own tag), so the printable-name test keeps them apart. Without the
 * name the fields alone are weak evidence: then only with a .caffemodel extension.
 */
export function detectCaffemodel(head: Uint8Array, fileName?: string): boolean {
  const fields = peekFields(head, 8);
  if (fields.length < 2 && !(fields.length === 1 && !fields[0]!.complete)) return false;
  for (const f of fields) if (!NET_FIELDS.get(f.field)?.includes(f.wire)) return false;
  const first = fields[0]!;
  if (first.field === 1) {
    const name = payload(head, first);
    return (first.length ?? 0) <= 1024 && isPrintableText(name, false, !first.complete) && fields.length >= 2 && [2, 3, 4, 5, 6, 7, 8, 100].includes(fields[1]!.field);
  }
  return hasExtension(fileName, ['.caffemodel']) && (first.field === 2 || first.field === 100);
}

// TensorFlow protobuf files (frozen GraphDef, checkpoint MetaGraphDef, SavedModel) and the
// tensor-bundle .index table, told apart by their first protobuf fields.
import { hasExtension, isPrintableText, payload, peekFields, WIRE_LEN, WIRE_VARINT, type PeekedField } from '../protobuf-peek.js';

const OP_NAME = /^[A-Za-z_>][\w>/.-]*$/;
const text = new TextDecoder('utf-8');

function isLen(f: PeekedField | undefined, field: number): f is PeekedField {
  return f !== undefined && f.field === field && f.wire === WIRE_LEN;
}

/** The first bytes of a LEN field's payload look like a nested message (its first tag is field 1 LEN). */
function startsWithMessage(head: Uint8Array, f: PeekedField): boolean {
  return head[f.start ?? head.length] === 0x0a;
}

/**
 * A GraphDef starts with its first NodeDef (field 1), which starts with the node's name
 * (field 1) and its op (field 2), both short text: `0a L 0a N <name> 12 M <Op>`. A GraphDef
 * without nodes (only versions/library) is accepted with a .pb extension.
 */
export function detectGraphDef(head: Uint8Array, fileName?: string): boolean {
  const top = peekFields(head, 2);
  const node = top[0];
  if (isLen(node, 1)) {
    const inner = peekFields(payload(head, node), 2);
    const [name, op] = inner;
    if (!isLen(name, 1) || !name.complete || !isPrintableText(payload(payload(head, node), name))) return false;
    if (!isLen(op, 2) || !op.complete) return false;
    return OP_NAME.test(text.decode(payload(payload(head, node), op)));
  }
  return hasExtension(fileName, ['.pb', '.graphdef']) && (isLen(node, 4) || isLen(node, 2)) && top.every((f) => f.wire === WIRE_LEN);
}

/**
 * A MetaGraphDef (.meta) starts with meta_info_def (field 1), whose stripped_op_list (field 2)
 * is a message of OpDefs, possibly after a text meta_graph_version (field 1). In a GraphDef
 * the same positions hold a node name and an op name, both text.
 */
export function detectMetaGraphDef(head: Uint8Array, fileName?: string): boolean {
  const top = peekFields(head, 1);
  const info = top[0];
  if (isLen(info, 1)) {
    const body = payload(head, info);
    const inner = peekFields(body, 2);
    let ops = inner[0];
    if (isLen(ops, 1) && ops.complete && isPrintableText(payload(body, ops))) ops = inner[1];
    return isLen(ops, 2) && startsWithMessage(body, ops);
  }
  // no meta_info_def: graph_def (field 2) first
  return hasExtension(fileName, ['.meta']) && isLen(info, 2) && startsWithMessage(head, info);
}

/** A SavedModel (saved_model.pb): saved_model_schema_version (field 1, small) then meta_graphs (field 2). */
export function detectSavedModel(head: Uint8Array): boolean {
  const [version, graphs] = peekFields(head, 2);
  return (
    version !== undefined && version.field === 1 && version.wire === WIRE_VARINT && (version.value ?? 0) >= 1 && (version.value ?? 0) <= 16 &&
    isLen(graphs, 2) && startsMetaGraph(head, graphs)
  );
}

/** A MetaGraphDef starts with one of its message fields 1..7 (TF2 writes object_graph_def, field 7, first). */
function startsMetaGraph(head: Uint8Array, f: PeekedField): boolean {
  const tag = head[f.start ?? head.length];
  return tag !== undefined && (tag & 7) === WIRE_LEN && tag >> 3 >= 1 && tag >> 3 <= 7;
}

/**
 * A tensor-bundle .index is a LevelDB-style table whose first entry has the empty key and a
 * BundleHeaderProto value: `00 00 <len> 08 <num_shards>`. Blocks may be Snappy-compressed,
 * which puts a varint (uncompressed size) and a literal tag before that entry.
 */
export function detectCheckpointIndex(head: Uint8Array, fileName?: string): boolean {
  // a legacy V1 checkpoint (`model.ckpt`, `model.ckpt-00000-of-00002`): the same table, its first
  // value a SavedTensorSlices whose meta's first tensor starts with its name
  if (detectV1Table(head) || (head[0] === 0 && head[1] === 0 && head[2]! > 0 && head[2]! < 0x80 && head[3] === 0x0a && /-\d{5}-of-\d{5}$/.test(fileName ?? ''))) return true;
  const entryAt = (at: number) =>
    head.length >= at + 5 && head[at] === 0 && head[at + 1] === 0 && head[at + 2]! > 0 && head[at + 2]! < 0x80 && head[at + 3] === 0x08;
  if (entryAt(0)) return true;
  // Snappy: varint uncompressed length, then a literal tag (low two bits 00)
  let at = 0;
  while (at < 5 && at < head.length && head[at]! & 0x80) at++;
  at++;
  const tag = head[at];
  if (tag === undefined || (tag & 3) !== 0) return false;
  const literalLenBytes = tag >> 2 < 60 ? 0 : (tag >> 2) - 59;
  return entryAt(at + 1 + literalLenBytes) && hasExtension(fileName, ['.index']);
}

/**
 * A V1 checkpoint table's first entry, uncompressed: `00 00 <value length>` (no shared key, an
 * empty key), then SavedTensorSlices.meta (`0a L`), its first SavedSliceMeta (`0a L`) and that
 * tensor's name (`0a L <printable name>`), each length inside the one before.
 */
function detectV1Table(head: Uint8Array): boolean {
  if (head[0] !== 0 || head[1] !== 0) return false;
  let at = 2;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; shift < 35 && at < head.length; shift += 7) {
      const b = head[at++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    return -1;
  };
  let outer = varint();
  for (let level = 0; level < 3; level++) {
    if (head[at++] !== 0x0a) return false;
    const start = at;
    const len = varint();
    if (len <= 0 || len + (at - start) + 1 > outer) return false;
    outer = len;
  }
  const name = head.subarray(at, Math.min(head.length, at + outer));
  return name.length > 0 && isPrintableText(name, false, at + outer > head.length);
}

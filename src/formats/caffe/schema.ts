// Caffe messages as plain objects, read through the field table generated from proto/caffe.proto.
// The prototxt parser and the caffemodel decoder both produce these, so one set of accessors
// (with caffe.proto's defaults) serves both.
import { descriptor, type FieldDescriptor } from '../generated/caffe.js';

/** Where a prototxt token was: 1-based line and column. */
export interface TextLocation {
  line: number;
  column: number;
}

/** A field the schema does not know, kept so the error can name it (and where it was). */
export interface UnknownField {
  name: string;
  at?: TextLocation;
}

/**
 * One decoded message: known fields by their caffe.proto name; repeated fields are arrays
 * (packed floats from a caffemodel are a Float32Array / Float64Array).
 */
export interface Message {
  readonly $type: string;
  $at?: TextLocation;
  $unknown?: UnknownField[];
  [field: string]: unknown;
}

export function messageFields(type: string): Record<string, FieldDescriptor> {
  const m = descriptor.messages[type];
  if (!m) throw new Error(`caffe schema has no message ${type}`); // a bug in nnport, not in the file
  return m;
}

export function enumValues(type: string): Record<string, number> {
  return descriptor.enums[type]!;
}

export function newMessage(type: string): Message {
  return { $type: type };
}

export function has(msg: Message, field: string): boolean {
  const v = msg[field];
  if (v === undefined) return false;
  return !(Array.isArray(v) || ArrayBuffer.isView(v)) || (v as ArrayLike<unknown>).length > 0;
}

/** A singular scalar or enum field, or its caffe.proto default (enums as numbers). */
export function num(msg: Message, field: string): number {
  const f = fieldOf(msg, field);
  const v = msg[field];
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (f.kind === 'enum') {
    if (typeof f.default === 'string') return enumValues(f.type)[f.default]!;
    // proto2: an enum without a default takes its first declared value
    return Object.values(enumValues(f.type))[0]!;
  }
  return typeof f.default === 'number' ? f.default : 0;
}

export function bool(msg: Message, field: string): boolean {
  const f = fieldOf(msg, field);
  const v = msg[field];
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  return f.default === true;
}

export function str(msg: Message, field: string): string {
  const f = fieldOf(msg, field);
  const v = msg[field];
  if (typeof v === 'string') return v;
  return typeof f.default === 'string' ? f.default : '';
}

export function nums(msg: Message, field: string): number[] {
  fieldOf(msg, field);
  const v = msg[field];
  if (v === undefined) return [];
  return Array.from(v as ArrayLike<number>);
}

export function strs(msg: Message, field: string): string[] {
  fieldOf(msg, field);
  return (msg[field] as string[] | undefined) ?? [];
}

export function sub(msg: Message, field: string): Message | undefined {
  fieldOf(msg, field);
  return msg[field] as Message | undefined;
}

export function subs(msg: Message, field: string): Message[] {
  fieldOf(msg, field);
  return (msg[field] as Message[] | undefined) ?? [];
}

function fieldOf(msg: Message, field: string): FieldDescriptor {
  const f = messageFields(msg.$type)[field];
  if (!f) throw new Error(`caffe schema: ${msg.$type} has no field ${field}`); // a bug in nnport
  return f;
}

/** A layer's parameter message, or an empty one of the right type so defaults apply. */
export function param(layer: Message, field: string): Message {
  const f = messageFields(layer.$type)[field];
  if (!f || f.kind !== 'message') throw new Error(`caffe schema: ${layer.$type} has no message field ${field}`);
  return (layer[field] as Message | undefined) ?? newMessage(f.type);
}

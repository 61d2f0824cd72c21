// A pickle virtual machine (protocols 0-5) that builds only plain data.
//
// Nothing in a pickle is ever executed: GLOBAL/STACK_GLOBAL are checked against an allow-list
// the caller supplies, the moment they are read, and REDUCE/NEWOBJ/BUILD only ever call the
// caller's own handlers for those allowed globals. Every length is checked against the bytes
// that remain before anything is sliced or allocated, containers grow only as items arrive,
// and the memo is a Map so that a claimed index cannot allocate.
import { FormatError, ResourceError } from '../../ir/errors.js';

/** A Python tuple (JS arrays stand for lists). */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}

/** A Python dict / OrderedDict; `attrs` holds state set by BUILD (e.g. a state dict's `_metadata`). */
export class PyDict {
  readonly map = new Map<unknown, unknown>();
  attrs?: unknown;
  constructor(readonly ordered = false) {}
}

/** An allowed global, as the callable/class object on the stack. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** The allow-list: what a global may be, and what calling it / building it does. */
export interface PickleGlobals {
  /** Returns the object standing for `module.name`, or throws (a refused global). */
  resolve(module: string, name: string): unknown;
  /** REDUCE and NEWOBJ: `callable(*args)`. */
  call(callable: unknown, args: readonly unknown[]): unknown;
  /** BUILD: `obj.__setstate__(state)`; returns the (possibly new) object. */
  build?(obj: unknown, state: unknown): unknown;
  /** BINPERSID/PERSID. */
  persistentLoad?(pid: unknown): unknown;
}

export interface PickleOptions {
  /** for error messages ("data.pkl" / the file name) */
  source: string;
  file?: string;
  /** the most memo entries (default 1e5 + an eighth of the pickle's bytes) */
  maxMemo?: number;
  /** the deepest MARK nesting (default 10000) */
  maxMarks?: number;
  /**
   * the most opcodes run (default 1e6 + a third of the pickle's bytes): every value the VM
   * holds was pushed by one opcode, so this bounds its memory and time linearly in the file
   * size with a small constant (a state dict's pickle spends ~5 bytes per opcode)
   */
  maxOps?: number;
}

class Mark {}
const MARK = new Mark();

export interface PickleResult {
  value: unknown;
  /** offset just after STOP */
  end: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** Run the pickle in `bytes` from `start` to its STOP opcode. */
export function unpickle(bytes: Uint8Array, globals: PickleGlobals, options: PickleOptions, start = 0): PickleResult {
  const file = options.file;
  const src = options.source;
  // like maxOps: linear in the pickle's size (a state dict memoizes about one value per 20 bytes)
  const maxMemo = options.maxMemo ?? 100_000 + Math.floor((bytes.byteLength - start) / 8);
  const maxMarks = options.maxMarks ?? 10_000;
  const maxOps = options.maxOps ?? 1_000_000 + Math.floor((bytes.byteLength - start) / 3);
  let ops = 0;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength;
  let pos = start;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const fail = (msg: string, at = pos): never => {
    throw new FormatError(`${src}: ${msg}`, { file, offset: at });
  };
  const need = (k: number): void => {
    if (k < 0 || pos + k > n) fail(`truncated pickle: needs ${k} more bytes, ${n - pos} left`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(n)) fail(`length ${v} exceeds the file`);
    return Number(v);
  };
  const take = (k: number): Uint8Array => {
    need(k);
    const s = bytes.subarray(pos, pos + k);
    pos += k;
    return s;
  };
  const line = (): string => {
    const e = bytes.indexOf(0x0a, pos);
    if (e < 0 || e - pos > 1 << 20) fail('unterminated text line in pickle');
    const s = latin1.decode(bytes.subarray(pos, e));
    pos = e + 1;
    return s;
  };
  const str = (b: Uint8Array): string => {
    // Keys are short ASCII: skip the decoder call, which dominates a cold start.
    if (b.byteLength <= 64) {
      let ascii = true;
      for (let i = 0; i < b.byteLength; i++) if (b[i]! >= 0x80) ascii = false;
      if (ascii) return String.fromCharCode.apply(null, b as unknown as number[]);
    }
    try {
      return utf8.decode(b);
    } catch {
      return fail('invalid UTF-8 in a pickled string');
    }
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('pickle stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('pickle stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) fail('pickle MARK missing');
    stack = prev!;
    return items;
  };
  const put = (i: number): void => {
    if (memo.size >= maxMemo && !memo.has(i)) throw new ResourceError(`${file ?? '<bytes>'}: ${src}: the pickle memo`, memo.size + 1, maxMemo, { flag: '', unit: 'count', verb: 'reaches' });
    memo.set(i, top());
  };
  const get = (i: number): void => {
    if (!memo.has(i)) fail(`pickle memo key ${i} is undefined`);
    stack.push(memo.get(i));
  };
  const setItems = (d: unknown, kv: unknown[]): void => {
    if (!(d instanceof PyDict)) fail('SETITEM(S) on something that is not a dict');
    if (kv.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) (d as PyDict).map.set(dictKey(kv[i], fail), kv[i + 1]);
  };
  const resolve = (module: string, name: string): unknown => globals.resolve(module, name);
  const longFrom = (b: Uint8Array): number | bigint => {
    if (b.byteLength === 0) return 0;
    // Through one hex string: shifting a BigInt byte by byte is quadratic, and LONG4 may be
    // as long as the file (a 200 KB integer took 20 s).
    let hex = '';
    for (let i = b.byteLength - 1; i >= 0; i--) hex += HEX[b[i]!]!;
    let v = BigInt(`0x${hex}`);
    if (b[b.byteLength - 1]! & 0x80) v -= 1n << BigInt(8 * b.byteLength);
    return smallInt(v);
  };

  for (;;) {
    const at = pos;
    if (++ops > maxOps) throw new ResourceError(`${file ?? '<bytes>'}: ${src}: the number of opcodes (a pickle bomb?)`, ops, maxOps, { flag: '', unit: 'count', verb: 'reaches' });
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol newer than 5', at);
        break;
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x2e: // STOP '.'
        if (marks.length) fail('pickle ends inside a MARK', at);
        return { value: pop(), end: pos };
      case 0x28: // MARK '('
        if (marks.length >= maxMarks) fail(`pickle nests MARKs deeper than ${maxMarks}`, at);
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP '0'
        pop();
        break;
      case 0x31: // POP_MARK '1'
        popMark();
        break;
      case 0x32: // DUP '2'
        stack.push(top());
        break;
      case 0x4e: // NONE 'N'
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT 'J'
        stack.push(i32());
        break;
      case 0x4b: // BININT1 'K'
        stack.push(u8());
        break;
      case 0x4d: // BININT2 'M'
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(longFrom(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const k = i32();
        if (k < 0) fail('negative LONG4 length', at);
        stack.push(longFrom(take(k)));
        break;
      }
      case 0x49: {
        // INT 'I' (protocol 0; also 00/01 for False/True)
        const s = line();
        if (s === '00') stack.push(false);
        else if (s === '01') stack.push(true);
        else stack.push(parseIntText(s, fail));
        break;
      }
      case 0x4c: // LONG 'L'
        stack.push(parseIntText(line().replace(/L$/, ''), fail));
        break;
      case 0x47: // BINFLOAT 'G' (big-endian double)
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: {
        // FLOAT 'F'
        const v = Number(line());
        stack.push(v);
        break;
      }
      case 0x58: // BINUNICODE 'X'
        stack.push(str(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(str(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(str(take(u64())));
        break;
      case 0x56: // UNICODE 'V' (raw-unicode-escape; the escapes state dicts use are \uXXXX)
        stack.push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))));
        break;
      case 0x54: {
        // BINSTRING 'T' (Python 2 str): decoded as latin-1 text
        const k = i32();
        if (k < 0) fail('negative BINSTRING length', at);
        stack.push(latin1.decode(take(k)));
        break;
      }
      case 0x55: // SHORT_BINSTRING 'U'
        stack.push(latin1.decode(take(u8())));
        break;
      case 0x53: {
        // STRING 'S': a quoted Python 2 literal
        const s = line();
        stack.push(s.length >= 2 && (s[0] === "'" || s[0] === '"') ? s.slice(1, -1) : s);
        break;
      }
      case 0x42: // BINBYTES 'B'
        stack.push(take(u32()));
        break;
      case 0x43: // SHORT_BINBYTES 'C'
        stack.push(take(u8()));
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()));
        break;
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()));
        break;
      case 0x29: // EMPTY_TUPLE ')'
        stack.push(new PyTuple([]));
        break;
      case 0x74: // TUPLE 't'
        {
          const items = popMark(); // before touching `stack`: popMark replaces it
          stack.push(new PyTuple(items));
        }
        break;
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x5d: // EMPTY_LIST ']'
        stack.push([]);
        break;
      case 0x6c: {
        // LIST 'l'
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x61: {
        // APPEND 'a'
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) fail('APPEND to something that is not a list', at);
        (l as unknown[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS 'e'
        const items = popMark();
        const l = top();
        if (!Array.isArray(l)) fail('APPENDS to something that is not a list', at);
        for (const v of items) (l as unknown[]).push(v);
        break;
      }
      case 0x7d: // EMPTY_DICT '}'
        stack.push(new PyDict());
        break;
      case 0x64: {
        // DICT 'd'
        const d = new PyDict();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM 's'
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS 'u'
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x8f: // EMPTY_SET: kept as a list of its items
        stack.push([]);
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!Array.isArray(s)) fail('ADDITEMS to something that is not a set', at);
        for (const v of items) (s as unknown[]).push(v);
        break;
      }
      case 0x91: {
        // FROZENSET
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x70: // PUT 'p'
        put(parseIntNumber(line(), fail));
        break;
      case 0x71: // BINPUT 'q'
        put(u8());
        break;
      case 0x72: // LONG_BINPUT 'r'
        put(u32());
        break;
      case 0x94: // MEMOIZE
        put(memo.size);
        break;
      case 0x67: // GET 'g'
        get(parseIntNumber(line(), fail));
        break;
      case 0x68: // BINGET 'h'
        get(u8());
        break;
      case 0x6a: // LONG_BINGET 'j'
        get(u32());
        break;
      case 0x63: {
        // GLOBAL 'c'
        const module = line();
        const name = line();
        stack.push(resolve(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings', at);
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x69: {
        // INST 'i': GLOBAL + OBJ in one
        const module = line();
        const name = line();
        const cls = resolve(module, name);
        const args = popMark();
        stack.push(globals.call(cls, args));
        break;
      }
      case 0x6f: {
        // OBJ 'o'
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class', at);
        stack.push(globals.call(items[0], items.slice(1)));
        break;
      }
      case 0x52: {
        // REDUCE 'R'
        const args = pop();
        const fn = pop();
        if (!(args instanceof PyTuple)) fail('REDUCE arguments are not a tuple', at);
        stack.push(globals.call(fn, (args as PyTuple).items));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple)) fail('NEWOBJ arguments are not a tuple', at);
        stack.push(globals.call(cls, (args as PyTuple).items));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(args instanceof PyTuple) || !(kwargs instanceof PyDict)) fail('NEWOBJ_EX arguments are malformed', at);
        if ((kwargs as PyDict).map.size) fail('NEWOBJ_EX with keyword arguments is not supported', at);
        stack.push(globals.call(cls, (args as PyTuple).items));
        break;
      }
      case 0x62: {
        // BUILD 'b'
        const state = pop();
        const obj = pop();
        if (!globals.build) fail('BUILD is not allowed here', at);
        stack.push(globals.build!(obj, state));
        break;
      }
      case 0x51: {
        // BINPERSID 'Q'
        const pid = pop();
        if (!globals.persistentLoad) fail('persistent ids are not allowed here', at);
        stack.push(globals.persistentLoad!(pid));
        break;
      }
      case 0x50: {
        // PERSID 'P'
        const pid = line();
        if (!globals.persistentLoad) fail('persistent ids are not allowed here', at);
        stack.push(globals.persistentLoad!(pid));
        break;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        fail('pickle extension registry codes (EXT1/2/4) are not allowed', at);
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        fail('out-of-band pickle buffers are not allowed', at);
        break;
      default:
        fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')}`, at);
    }
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The longest text a tuple dict key may have. */
const MAX_KEY_TEXT = 4096;

/**
 * Dict keys: strings, ints and bools stay as they are; tuples key by their text form. The text
 * is built against a budget: a tuple can hold the same tuple twice at every level, so its text
 * doubles per level (30 levels: 2^30 characters from a 100-byte pickle).
 */
function dictKey(k: unknown, fail: (m: string) => never): unknown {
  if (!(k instanceof PyTuple)) return k;
  let budget = MAX_KEY_TEXT;
  const spend = (s: string): string => {
    budget -= Math.max(s.length, 1);
    if (budget < 0) fail(`pickle dict key is longer than ${MAX_KEY_TEXT} characters`);
    return s;
  };
  const text = (x: unknown, depth: number): string => {
    if (depth > 32) fail('pickle dict key nests tuples deeper than 32 levels');
    if (x instanceof PyTuple) return `(${x.items.map((y) => text(y, depth + 1)).join(', ')})`;
    return spend(pyText(x, MAX_KEY_TEXT));
  };
  return text(k, 0);
}

/**
 * A value as short text for keys and messages. Containers are never given to String(): a
 * pickle can make a list hold the same list twice per level, and its text would double each time.
 */
export function pyText(v: unknown, max = 80): string {
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' || typeof v === 'boolean') s = String(v);
  else if (typeof v === 'bigint') s = v.toString(16).length > 64 ? `<${v.toString(16).length * 4}-bit integer>` : String(v);
  else if (v === null) s = 'None';
  else if (Array.isArray(v)) s = `<list of ${v.length}>`;
  else if (v instanceof PyTuple) s = `<tuple of ${v.items.length}>`;
  else if (v instanceof PyDict) s = `<dict of ${v.map.size}>`;
  else if (v instanceof Uint8Array) s = `<${v.byteLength} bytes>`;
  else if (v instanceof PyGlobal) s = v.qualified;
  else s = `<${typeof v}>`;
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

function smallInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseIntText(s: string, fail: (m: string) => never): number | bigint {
  if (!/^[+-]?\d{1,400}$/.test(s.trim())) fail(`bad integer literal '${s.slice(0, 40)}' in pickle`);
  return smallInt(BigInt(s.trim()));
}

function parseIntNumber(s: string, fail: (m: string) => never): number {
  const v = parseIntText(s, fail);
  if (typeof v !== 'number' || v < 0) fail(`bad memo index '${s.slice(0, 40)}'`);
  return v as number;
}

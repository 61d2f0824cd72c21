// Protobuf text format (what Caffe's .prototxt files are) into Caffe messages, driven by the
// field table of proto/caffe.proto. Errors name the file, line and column. A field the schema
// does not know is skipped but kept on its message ($unknown), so the importer can report it
// together with the layer it belongs to (an SSD-fork layer's own parameters, for instance).
import { FormatError } from '../../ir/errors.js';
import type { FieldDescriptor } from '../generated/caffe.js';
import { enumValues, messageFields, newMessage, type Message, type TextLocation } from './schema.js';

type TokenKind = 'ident' | 'number' | 'string' | 'punct' | 'eof';

interface Token extends TextLocation {
  kind: TokenKind;
  text: string;
  /** decoded value of a string token */
  value?: string;
}

/** Messages nest this deep at most (Caffe's own nest 3-4 levels); deeper is a corrupt file. */
const MAX_DEPTH = 64;

class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private peeked: Token | undefined;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  error(at: TextLocation, message: string): FormatError {
    return new FormatError(`line ${at.line}, column ${at.column}: ${message}`, { file: this.file });
  }

  peek(): Token {
    return (this.peeked ??= this.scan());
  }

  next(): Token {
    const t = this.peek();
    this.peeked = undefined;
    return t;
  }

  private scan(): Token {
    const s = this.text;
    for (;;) {
      const c = s.charCodeAt(this.pos);
      if (c === 10) {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else if (c === 32 || c === 9 || c === 13 || c === 12 || c === 11) {
        this.pos++;
      } else if (c === 35) {
        // '#' comment to the end of the line
        while (this.pos < s.length && s.charCodeAt(this.pos) !== 10) this.pos++;
      } else break;
    }
    const at = { line: this.line, column: this.pos - this.lineStart + 1 };
    if (this.pos >= s.length) return { kind: 'eof', text: '', ...at };
    const start = this.pos;
    const c = s[this.pos]!;
    if (/[A-Za-z_]/.test(c)) {
      while (this.pos < s.length && /[A-Za-z0-9_.]/.test(s[this.pos]!)) this.pos++;
      return { kind: 'ident', text: s.slice(start, this.pos), ...at };
    }
    if (/[0-9.+-]/.test(c)) {
      this.pos++;
      while (this.pos < s.length && /[A-Za-z0-9_.+-]/.test(s[this.pos]!)) {
        // a sign only right after an exponent letter
        const ch = s[this.pos]!;
        if ((ch === '+' || ch === '-') && !/[eE]/.test(s[this.pos - 1]!)) break;
        this.pos++;
      }
      return { kind: 'number', text: s.slice(start, this.pos), ...at };
    }
    if (c === '"' || c === "'") return this.scanString(c, at);
    if ('{}[]<>:;,'.includes(c)) {
      this.pos++;
      return { kind: 'punct', text: c, ...at };
    }
    throw this.error(at, `unexpected character '${c}'`);
  }

  private scanString(quote: string, at: TextLocation): Token {
    const s = this.text;
    const start = this.pos++;
    const bytes: number[] = [];
    const enc = new TextEncoder();
    for (;;) {
      if (this.pos >= s.length || s[this.pos] === '\n') throw this.error(at, 'unterminated string');
      const ch = s[this.pos]!;
      if (ch === quote) {
        this.pos++;
        break;
      }
      if (ch !== '\\') {
        const cp = s.codePointAt(this.pos)!;
        const piece = String.fromCodePoint(cp);
        bytes.push(...enc.encode(piece));
        this.pos += piece.length;
        continue;
      }
      const e = s[this.pos + 1];
      this.pos += 2;
      const simple: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63 };
      if (e !== undefined && e in simple) bytes.push(simple[e]!);
      else if (e === 'x' || e === 'X') {
        const m = /^[0-9A-Fa-f]{1,2}/.exec(s.slice(this.pos));
        if (!m) throw this.error(at, 'bad \\x escape in string');
        bytes.push(parseInt(m[0], 16));
        this.pos += m[0].length;
      } else if (e !== undefined && /[0-7]/.test(e)) {
        const m = /^[0-7]{0,2}/.exec(s.slice(this.pos))!;
        const v = parseInt(e + m[0], 8);
        if (v > 255) throw this.error(at, 'octal escape out of range in string');
        bytes.push(v);
        this.pos += m[0].length;
      } else if (e === 'u' || e === 'U') {
        const len = e === 'u' ? 4 : 8;
        const hex = s.slice(this.pos, this.pos + len);
        if (!new RegExp(`^[0-9A-Fa-f]{${len}}$`).test(hex) || parseInt(hex, 16) > 0x10ffff) throw this.error(at, `bad \\${e} escape in string`);
        bytes.push(...enc.encode(String.fromCodePoint(parseInt(hex, 16))));
        this.pos += len;
      } else throw this.error(at, `unknown escape '\\${e ?? ''}' in string`);
    }
    const value = new TextDecoder('utf-8').decode(new Uint8Array(bytes));
    return { kind: 'string', text: s.slice(start, this.pos), value, ...at };
  }
}

/** Parse a prototxt into a message of `type` (default: NetParameter). */
export function parsePrototxt(text: string, file: string, type = 'caffe.NetParameter'): Message {
  const lex = new Lexer(text.replace(/^\uFEFF/, ''), file);
  return parseFields(lex, type, 'eof', 0);
}

function parseFields(lex: Lexer, type: string, end: string, depth: number, open?: Token): Message {
  if (depth > MAX_DEPTH) throw lex.error(lex.peek(), `messages nested more than ${MAX_DEPTH} deep`);
  const fields = messageFields(type);
  const msg = newMessage(type);
  for (;;) {
    const t = lex.next();
    if (end === 'eof' ? t.kind === 'eof' : t.kind === 'punct' && t.text === end) return msg;
    if (t.kind === 'eof') throw lex.error(open ?? t, `'${open?.text ?? ''}' is never closed: the file ends inside this ${shortName(type)}`);
    if (t.kind !== 'ident') throw lex.error(t, t.kind === 'punct' && '}>'.includes(t.text) ? `unbalanced '${t.text}'` : `expected a field name, found '${t.text}'`);
    const f = fields[t.text];
    if (!f) {
      (msg.$unknown ??= []).push({ name: t.text, at: { line: t.line, column: t.column } });
      skipValue(lex, depth);
    } else if (f.kind === 'message') {
      const colon = lex.peek();
      if (colon.kind === 'punct' && colon.text === ':') lex.next();
      const values = lex.peek().kind === 'punct' && lex.peek().text === '[' ? parseList(lex, () => parseSubMessage(lex, f, t.text, depth)) : [parseSubMessage(lex, f, t.text, depth)];
      store(lex, msg, t, f, values);
    } else {
      const colon = lex.next();
      if (colon.kind !== 'punct' || colon.text !== ':') throw lex.error(colon, `expected ':' after '${t.text}', found '${colon.text || 'end of file'}'`);
      const values = lex.peek().kind === 'punct' && lex.peek().text === '[' ? parseList(lex, () => parseScalar(lex, f, t.text)) : [parseScalar(lex, f, t.text)];
      store(lex, msg, t, f, values);
    }
    const sep = lex.peek();
    if (sep.kind === 'punct' && (sep.text === ';' || sep.text === ',')) lex.next();
  }
}

function store(lex: Lexer, msg: Message, name: Token, f: FieldDescriptor, values: unknown[]): void {
  if (f.repeated) {
    const arr = (msg[name.text] as unknown[] | undefined) ?? [];
    for (const v of values) arr.push(v); // not push(...values): a list may be longer than a call's arguments
    msg[name.text] = arr;
    return;
  }
  if (values.length !== 1) throw lex.error(name, `'${name.text}' is not a repeated field; it takes one value`);
  // Text format allows a singular field once; a second one is an error in protobuf's own parser.
  if (msg[name.text] !== undefined) throw lex.error(name, `'${name.text}' is given more than once (it is not a repeated field)`);
  msg[name.text] = values[0];
}

function parseList<T>(lex: Lexer, item: () => T): T[] {
  lex.next(); // '['
  const out: T[] = [];
  if (lex.peek().kind === 'punct' && lex.peek().text === ']') {
    lex.next();
    return out;
  }
  for (;;) {
    out.push(item());
    const t = lex.next();
    if (t.kind === 'punct' && t.text === ']') return out;
    if (t.kind !== 'punct' || t.text !== ',') throw lex.error(t, `expected ',' or ']' in a list, found '${t.text || 'end of file'}'`);
  }
}

function parseSubMessage(lex: Lexer, f: FieldDescriptor, name: string, depth: number): Message {
  const open = lex.next();
  if (open.kind !== 'punct' || (open.text !== '{' && open.text !== '<')) {
    throw lex.error(open, `'${name}' is a ${shortName(f.type)} message: expected '{', found '${open.text || 'end of file'}'`);
  }
  const m = parseFields(lex, f.type, open.text === '{' ? '}' : '>', depth + 1, open);
  m.$at = { line: open.line, column: open.column };
  return m;
}

function parseScalar(lex: Lexer, f: FieldDescriptor, name: string): unknown {
  const t = lex.next();
  const bad = (what: string) => lex.error(t, `'${name}' takes ${what}, found ${t.kind === 'eof' ? 'end of file' : `'${t.text}'`}`);
  if (f.kind === 'enum') {
    const values = enumValues(f.type);
    if (t.kind === 'ident') {
      const v = values[t.text];
      if (v === undefined) throw lex.error(t, `'${t.text}' is not a value of ${shortName(f.type)} (${Object.keys(values).join(', ')})`);
      return v;
    }
    if (t.kind === 'number' && /^-?\d+$/.test(t.text)) return Number(t.text);
    throw bad(`a ${shortName(f.type)} name`);
  }
  switch (f.type) {
    case 'string':
    case 'bytes': {
      if (t.kind !== 'string') throw bad('a quoted string');
      let v = t.value!;
      // adjacent string literals concatenate, as in C
      while (lex.peek().kind === 'string') v += lex.next().value!;
      return v;
    }
    case 'bool':
      if (t.kind === 'ident' && (t.text === 'true' || t.text === 't' || t.text === 'True')) return true;
      if (t.kind === 'ident' && (t.text === 'false' || t.text === 'f' || t.text === 'False')) return false;
      if (t.kind === 'number' && (t.text === '1' || t.text === '0')) return t.text === '1';
      throw bad('true or false');
    case 'float':
    case 'double': {
      if (t.kind === 'ident' && /^(inf|infinity|nan)$/i.test(t.text)) return /^nan$/i.test(t.text) ? NaN : Infinity;
      if (t.kind === 'number' && /^-(inf|infinity)$/i.test(t.text)) return -Infinity;
      if (t.kind !== 'number') throw bad('a number');
      const text = t.text.replace(/[fF]$/, '');
      const v = /^[+-]?0[xX]/.test(text) ? parseInt(text, 16) : Number(text);
      if (!Number.isFinite(v) && !/^[+-]?\d/.test(text)) throw bad('a number');
      if (Number.isNaN(v)) throw bad('a number');
      return f.type === 'float' ? Math.fround(v) : v;
    }
    default: {
      // integer types
      if (t.kind !== 'number') throw bad('an integer');
      const m = /^([+-]?)(0[xX][0-9A-Fa-f]+|0[0-7]*|[1-9]\d*)$/.exec(t.text);
      if (!m) throw bad('an integer');
      const digits = m[2]!;
      let v = /^0[xX]/.test(digits) ? parseInt(digits, 16) : digits.length > 1 && digits[0] === '0' ? parseInt(digits, 8) : Number(digits);
      if (m[1] === '-') v = -v;
      if (!Number.isSafeInteger(v)) throw lex.error(t, `'${name}' value ${t.text} is out of range`);
      if (f.type.startsWith('uint') && v < 0) throw lex.error(t, `'${name}' takes an unsigned integer, found ${t.text}`);
      if (f.type.endsWith('32') && (v > 0xffffffff || v < -0x80000000)) throw lex.error(t, `'${name}' value ${t.text} is out of range for ${f.type}`);
      return v;
    }
  }
}

/** Skip an unknown field's value: `: scalar`, `: [..]`, or a `{ }` / `< >` block. */
function skipValue(lex: Lexer, depth: number): void {
  let t = lex.peek();
  if (t.kind === 'punct' && t.text === ':') {
    lex.next();
    t = lex.peek();
    if (t.kind === 'punct' && t.text === '[') {
      lex.next();
      for (;;) {
        const u = lex.peek();
        if (u.kind === 'punct' && (u.text === '{' || u.text === '<')) skipBlock(lex, depth);
        else {
          lex.next();
          if (u.kind === 'eof') throw lex.error(u, "missing ']': the file ends inside a list");
          if (u.kind === 'punct' && u.text === ']') return;
        }
      }
    }
    if (t.kind === 'punct' && (t.text === '{' || t.text === '<')) return skipBlock(lex, depth);
    if (t.kind === 'ident' || t.kind === 'number' || t.kind === 'string') {
      lex.next();
      while (t.kind === 'string' && lex.peek().kind === 'string') lex.next();
      return;
    }
    throw lex.error(t, `expected a value, found '${t.text || 'end of file'}'`);
  }
  if (t.kind === 'punct' && (t.text === '{' || t.text === '<')) return skipBlock(lex, depth);
  throw lex.error(t, `expected ':' or '{' after a field name, found '${t.text || 'end of file'}'`);
}

function skipBlock(lex: Lexer, depth: number): void {
  const open = lex.next();
  const close = open.text === '{' ? '}' : '>';
  if (depth > MAX_DEPTH) throw lex.error(open, `messages nested more than ${MAX_DEPTH} deep`);
  for (;;) {
    const t = lex.peek();
    if (t.kind === 'eof') throw lex.error(open, `missing '${close}' for the '${open.text}' opened here`);
    if (t.kind === 'punct' && t.text === close) {
      lex.next();
      return;
    }
    if (t.kind === 'punct' && (t.text === '{' || t.text === '<')) skipBlock(lex, depth + 1);
    else if (t.kind === 'punct' && '}>'.includes(t.text)) throw lex.error(t, `unbalanced '${t.text}'`);
    else lex.next();
  }
}

function shortName(type: string): string {
  return type.slice(type.lastIndexOf('.') + 1);
}

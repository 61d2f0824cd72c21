// Hostile and corrupt inputs: each must be refused with a clear error, and nothing may run.
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPytorch } from '../../../src/formats/pytorch/index.js';
import { unpickle, type PickleGlobals } from '../../../src/formats/pytorch/pickle.js';
import { torchGlobals } from '../../../src/formats/pytorch/torch-globals.js';
import { writeZip, ZipReader } from '../../../src/io/zip.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import { FIXTURES, PickleBuilder } from './helpers.js';

const marker = join(tmpdir(), `nnport-pwned-${process.pid}`);

/** A torch.save-shaped zip around a data.pkl and storages. */
function torchZip(pkl: Uint8Array, storages: Record<string, Uint8Array> = {}, extra: { name: string; data: Uint8Array }[] = []): Uint8Array {
  return writeZip(
    [{ name: 'archive/data.pkl', data: pkl }, ...Object.entries(storages).map(([k, data]) => ({ name: `archive/data/${k}`, data })), ...extra, { name: 'archive/version', data: new TextEncoder().encode('3\n') }],
    { align: 64 },
  );
}

function read(bytes: Uint8Array) {
  return readPytorch(bytes, { fileName: 'evil.pt' });
}

/** global(arg) reduced and stored under 'x' in a dict, the shape of a real __reduce__ exploit. */
function callGlobal(module: string, name: string, arg: string, stackGlobal = false): Uint8Array {
  const b = new PickleBuilder().op(0x7d).str('x');
  if (stackGlobal) b.str(module).str(name).op(0x93);
  else b.global(module, name);
  return b.str(arg).op(0x85).reduce().op(0x73).stop();
}

describe('hostile pickles are refused and nothing runs', () => {
  const cases: [string, string, boolean][] = [
    ['os', 'system', false],
    ['posix', 'system', false],
    ['builtins', 'eval', true],
    ['builtins', 'exec', false],
    ['subprocess', 'Popen', true],
    ['nt', 'system', false],
    ['torch', 'load', false],
    ['torch.serialization', 'load', false],
    ['numpy.testing._private.utils', 'runstring', false],
  ];
  for (const [module, name, stackGlobal] of cases) {
    it(`${module}.${name}${stackGlobal ? ' (STACK_GLOBAL)' : ''}`, () => {
      const bytes = torchZip(callGlobal(module, name, `touch ${marker}`, stackGlobal));
      expect(() => read(bytes)).toThrow(FormatError);
      expect(() => read(bytes)).toThrow(`evil.pt: refusing to load global '${module}.${name}' from data.pkl: only tensors and plain containers are allowed`);
      expect(existsSync(marker)).toBe(false);
    });
  }

  it('a real torch.save of an object whose __reduce__ calls os.system', () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'evil_os_system.pt')));
    expect(() => read(bytes)).toThrow("refusing to load global 'posix.system' from data.pkl: only tensors and plain containers are allowed");
  });

  it('a legacy-format torch.save calling eval', () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'evil_eval.pt')));
    expect(() => read(bytes)).toThrow("refusing to load global '__builtin__.eval' from the checkpoint pickle");
  });

  it('a whole module from torch.nn', () => {
    const pkl = new PickleBuilder().global('torch.nn.modules.linear', 'Linear').op(0x29).op(0x81).stop();
    expect(() => read(torchZip(pkl))).toThrow(/whole nn\.Module.*state_dict/);
  });

  it('an allowed global used for something else: calling a storage class', () => {
    const pkl = new PickleBuilder().global('torch', 'FloatStorage').str('x').op(0x85).reduce().stop();
    expect(() => read(torchZip(pkl))).toThrow(/refusing to call torch\.FloatStorage/);
  });

  it('REDUCE on something that is not an allowed global', () => {
    const pkl = new PickleBuilder().str('os.system').str('x').op(0x85).reduce().stop();
    expect(() => read(torchZip(pkl))).toThrow(/refusing to call 'os\.system'/);
  });

  it('BUILD on a plain value, EXT codes, out-of-band buffers', () => {
    expect(() => read(torchZip(new PickleBuilder().str('a').op(0x7d).op(0x62).stop()))).toThrow(/refusing to set state/);
    expect(() => read(torchZip(new PickleBuilder().op(0x82, 1).stop()))).toThrow(/EXT1\/2\/4/);
    expect(() => read(torchZip(new PickleBuilder().op(0x97).stop()))).toThrow(/out-of-band/);
  });
});

describe('hostile storages and archives', () => {
  it('a storage key pointing outside the archive', () => {
    for (const key of ['../../etc/passwd', '/etc/passwd', '..', 'a/b']) {
      const bytes = torchZip(PickleBuilder.stateDict(key, 4, [4]));
      expect(() => read(bytes)).toThrow(/refusing storage key/);
    }
  });

  it('a storage key naming no entry', () => {
    const bytes = torchZip(PickleBuilder.stateDict('7', 4, [4]), { '0': new Uint8Array(16) });
    expect(() => read(bytes)).toThrow("storage '7' points to 'archive/data/7', which is not in the archive");
  });

  it('a claimed storage size larger than its entry', () => {
    const bytes = torchZip(PickleBuilder.stateDict('0', 1e9, [4]), { '0': new Uint8Array(16) });
    expect(() => read(bytes)).toThrow("storage '0' claims 1000000000 elements (4000000000 bytes) but its entry holds 16 bytes");
  });

  it('a tensor reaching past its storage', () => {
    const bytes = torchZip(PickleBuilder.stateDict('0', 4, [5]), { '0': new Uint8Array(16) });
    expect(() => read(bytes)).toThrow(/tensor 'w' \[5\] reaches element 4 of storage '0', which has 4 float32 elements/);
  });

  it('a well-formed one reads (the builder is right)', () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const m = read(torchZip(PickleBuilder.stateDict('0', 4, [2, 2]), { '0': new Uint8Array(data.buffer) }));
    expect(m.tensors.get('w')!.toNumbers()).toEqual([1, 2, 3, 4]);
  });

  it('zip entries with ../ or absolute names', () => {
    for (const name of ['../evil', 'archive/../../evil', '/etc/passwd', 'C:/x', 'a\\..\\b']) {
      const zip = writeZip([{ name: 'archive/data.pkl', data: new Uint8Array(4) }, { name: 'archive/x', data: new Uint8Array(1) }]);
      // patch the second name in place (same length) to the hostile one
      const good = new TextEncoder().encode('archive/x');
      const bad = new TextEncoder().encode(name.padEnd(9, '_').slice(0, 9));
      const bytes = replaceAll(zip, good, bad);
      if (name.length <= 9) expect(() => read(bytes), name).toThrow(/refusing zip entry .*relative paths without '\.\.'/);
    }
    expect(() => writeZip([{ name: '../x', data: new Uint8Array(1) }])).toThrow(/refusing zip entry/);
  });

  it('a deflated entry claiming more than deflate can produce (zip bomb claim) is refused before allocating', () => {
    const zip = writeZip([{ name: 'archive/data.pkl', data: new Uint8Array(8) }]);
    const dv = new DataView(zip.buffer);
    const cd = findSig(zip, 0x02014b50);
    dv.setUint16(cd + 10, 8, true); // method: deflate
    dv.setUint32(cd + 24, 0xfffffff0, true); // claimed uncompressed size: 4 GiB from 8 bytes
    expect(() => ZipReader.open(zip, 'bomb.zip').read('archive/data.pkl')).toThrow(/claims 4294967280 bytes from 8 compressed bytes/);
  });

  it('an entry running past the end of the file', () => {
    const zip = writeZip([{ name: 'archive/data.pkl', data: new Uint8Array(8) }]);
    const cd = findSig(zip, 0x02014b50);
    new DataView(zip.buffer).setUint32(cd + 20, 1e9, true);
    new DataView(zip.buffer).setUint32(cd + 24, 1e9, true);
    expect(() => ZipReader.open(zip, 'x.zip').read('archive/data.pkl')).toThrow(/runs past the end of the file/);
  });

  it('a central directory claiming more entries than it can hold', () => {
    const zip = writeZip([{ name: 'a', data: new Uint8Array(1) }]);
    const eocd = findSig(zip, 0x06054b50);
    new DataView(zip.buffer).setUint16(eocd + 10, 60000, true);
    expect(() => ZipReader.open(zip, 'x.zip')).toThrow(/claims 60000 entries/);
  });

  it('legacy: a storage claiming more bytes than remain', () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'dtypes.legacy.pt')));
    expect(() => read(bytes.subarray(0, bytes.byteLength - 3))).toThrow(/claims \d+ elements \(\d+ bytes\) but only \d+ bytes remain/);
  });

  it('a plain pickle that is not a torch.save file', () => {
    expect(() => read(new PickleBuilder().int(1).stop())).toThrow(/without the PyTorch magic number/);
  });
});

describe('pickle VM limits', () => {
  const none: PickleGlobals = {
    resolve: (m, n) => {
      throw new FormatError(`refused ${m}.${n}`);
    },
    call: () => {
      throw new FormatError('no calls');
    },
  };
  const run = (b: Uint8Array, opts: { maxMarks?: number; maxMemo?: number } = {}) => unpickle(b, none, { source: 'test.pkl', ...opts }).value;

  it('claimed lengths beyond the data are errors, not allocations', () => {
    expect(() => run(new PickleBuilder().op(0x58, 0xff, 0xff, 0xff, 0xff).stop())).toThrow(/truncated pickle/);
    expect(() => run(new PickleBuilder().op(0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0).stop())).toThrow(/exceeds the file/);
    expect(() => run(new PickleBuilder().op(0x8b, 0xff, 0xff, 0xff, 0x7f).stop())).toThrow(/truncated pickle/);
  });

  it('memo: a huge index allocates nothing; an undefined one is an error; the size is bounded', () => {
    expect(run(new PickleBuilder().int(5).op(0x72, 0xff, 0xff, 0xff, 0xff).op(0x6a, 0xff, 0xff, 0xff, 0xff).op(0x86).stop())).toMatchObject({ items: [5, 5] });
    expect(() => run(new PickleBuilder().op(0x68, 3).stop())).toThrow(/memo key 3 is undefined/);
    const b = new PickleBuilder().int(1);
    for (let i = 0; i < 20; i++) b.op(0x94);
    expect(() => run(b.stop(), { maxMemo: 10 })).toThrow(/pickle memo reaches 11, over the limit of 10/);
  });

  it('MARK nesting is bounded', () => {
    const b = new PickleBuilder();
    for (let i = 0; i < 200; i++) b.mark();
    expect(() => run(b.stop(), { maxMarks: 100 })).toThrow(/deeper than 100/);
  });

  it('truncated input, stack underflow, unknown opcodes', () => {
    expect(() => run(new Uint8Array([0x80, 2, 0x4a, 1]))).toThrow(/truncated pickle/);
    expect(() => run(new Uint8Array([0x80, 2]))).toThrow(/truncated pickle/);
    expect(() => run(new PickleBuilder().op(0x30).stop())).toThrow(/underflow/);
    expect(() => run(new PickleBuilder().op(0xff).stop())).toThrow(/unknown pickle opcode 0xff/);
  });

  it('a list that contains itself reads and walks without looping', () => {
    const pkl = new PickleBuilder().op(0x7d).str('l').op(0x5d, 0x71, 0).op(0x68, 0, 0x61).op(0x73).stop();
    const m = read(torchZip(pkl));
    expect(m.tensors.size).toBe(0);
  });

  it('shared sub-lists (a billion laughs) are cut off, not walked 2^60 times', () => {
    // l0 = [], then l_{i+1} = [l_i, l_i] sixty times: 60 small ops, 2^60 paths
    const b = new PickleBuilder().op(0x5d);
    for (let i = 0; i < 60; i++) b.op(0x32, 0x86); // DUP, TUPLE2
    const m = () => read(torchZip(b.op(0x85).stop()));
    expect(m).toThrow(/more than 2000000 times/);
  });

  it('deeply nested tuple keys are refused, not a stack overflow', () => {
    const b = new PickleBuilder().op(0x7d).int(1);
    for (let i = 0; i < 100000; i++) b.op(0x85);
    b.int(2).op(0x73);
    expect(() => read(torchZip(b.stop()))).toThrow(/deeper than 32 levels/);
  });

  it('an expanded (stride 0) tensor claiming terabytes', () => {
    const pkl = new PickleBuilder().op(0x7d).str('w').global('torch._utils', '_rebuild_tensor_v2').mark();
    pkl.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(1).tuple().op(0x51);
    pkl.int(0).mark().int(1 << 30).int(1 << 30).tuple().mark().int(0).int(0).tuple().op(0x89).global('collections', 'OrderedDict').op(0x29).reduce().tuple().reduce().op(0x73);
    expect(() => read(torchZip(pkl.stop(), { '0': new Uint8Array(4) }))).toThrow(/would expand 4 bytes of storage into 4611686018427388000 bytes/);
  });

  it('quantized tensors are unsupported (named), not misread', () => {
    const pkl = new PickleBuilder().global('torch._utils', '_rebuild_qtensor').stop();
    expect(() => read(torchZip(pkl))).toThrow(UnsupportedError);
    expect(() => read(torchZip(pkl))).toThrow(/quantized tensors/);
  });
});

// Found by test/formats/fuzz.test.ts: names and shapes a pickle controls must not reach
// Object.prototype lookups, quadratic BigInt arithmetic or exponential String() conversions.
describe('pickles that aim at the reader itself', () => {
  /** A one-tensor state dict whose storage class is torch.<storage>. */
  const stateDict = (storage: string) => {
    const b = new PickleBuilder().op(0x7d).str('w').global('torch._utils', '_rebuild_tensor_v2').mark();
    b.mark().str('storage').global('torch', storage).str('0').str('cpu').int(1).tuple().op(0x51);
    b.int(0).mark().int(1).tuple().mark().int(1).tuple().op(0x89).global('collections', 'OrderedDict').op(0x29).reduce().tuple().reduce().op(0x73);
    return torchZip(b.stop(), { '0': new Uint8Array(4) });
  };

  it('a storage class named like an Object.prototype property is refused by name, not a TypeError', () => {
    expect(read(stateDict('FloatStorage')).tensors.get('w')!.shape).toEqual([1]);
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(() => read(stateDict(name))).toThrow(FormatError);
      expect(() => read(stateDict(name))).toThrow(`refusing to load global 'torch.${name}'`);
    }
  });

  /** `levels` times: the list/tuple on the stack becomes a pair of itself (memo 0 holds it). */
  const doubled = (b: PickleBuilder, levels: number, pair: number[]) => {
    for (let i = 0; i < levels; i++) b.op(0x71, 0, 0x30, ...pair);
    return b;
  };

  it('a tuple dict key that doubles itself 30 times is an error, not 2^30 characters', () => {
    const b = new PickleBuilder().op(0x7d).str('x').op(0x85); // {} ('x',)
    doubled(b, 30, [0x68, 0, 0x68, 0, 0x86]).str('v').op(0x73); // key = (k, k), 30 times
    expect(() => read(torchZip(b.stop()))).toThrow(/evil\.pt.*dict key is longer than 4096 characters/);
  });

  it('torch.device and a storage key given a list that doubles itself 40 times: no String() of it', () => {
    const list = (b: PickleBuilder) => doubled(b.op(0x5d).str('x').op(0x61), 40, [0x5d, 0x68, 0, 0x61, 0x68, 0, 0x61]); // l = [l, l]
    const device = list(new PickleBuilder().op(0x7d).str('d').global('torch', 'device')).op(0x85).reduce().op(0x73);
    expect(read(torchZip(device.stop())).scalars).toEqual({ d: '<list of 2>' });
    const key = list(new PickleBuilder().op(0x7d).str('w').mark().str('storage').global('torch', 'FloatStorage')).str('cpu').int(1).tuple().op(0x51, 0x73);
    expect(() => read(torchZip(key.stop()))).toThrow(/refusing storage key "<list of 2>"/);
  });

  it('a 1 MB LONG4 integer is read in linear time and summarized, not printed', () => {
    // byte-by-byte BigInt shifts took 20 s for 200 KB (quadratic): this took minutes
    const n = 1 << 20;
    const b = new PickleBuilder().op(0x7d).str('big').op(0x8b, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24);
    const pkl = b.stop();
    const big = new Uint8Array(pkl.length - 1 + n + 2);
    big.set(pkl.subarray(0, -1));
    big.fill(0x11, pkl.length - 1, pkl.length - 1 + n);
    big.set([0x73, 0x2e], pkl.length - 1 + n); // SETITEM, STOP
    expect(read(torchZip(big)).scalars).toEqual({ big: `<${8 * n}-bit integer>` });
  });

  it('legacy: a storage key list holding a list is an error naming the file', () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'views.legacy.pt')));
    const e = (() => {
      try {
        read(legacyWithKeyList(bytes));
      } catch (err) {
        return err as Error;
      }
      throw new Error('read without error');
    })();
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toMatch(/evil\.pt.*storage key <list of 0> is not a name/);
  });
});

/** A legacy checkpoint whose storage key list is `[[]]` (everything after it dropped). */
function legacyWithKeyList(bytes: Uint8Array): Uint8Array {
  // magic number, protocol, sys info, then the checkpoint: the key list pickle starts after them
  let end = 0;
  for (let i = 0; i < 4; i++) end = unpickle(bytes, torchGlobals({ source: 't', file: 't', storages: new Map(), legacy: true }), { source: 't' }, end).end;
  const keyList = new PickleBuilder().op(0x5d, 0x5d, 0x61).stop();
  const out = new Uint8Array(end + keyList.length);
  out.set(bytes.subarray(0, end));
  out.set(keyList, end);
  return out;
}

function findSig(b: Uint8Array, sig: number): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = b.byteLength - 4; i >= 0; i--) if (dv.getUint32(i, true) === sig) return i;
  throw new Error('signature not found');
}

function replaceAll(hay: Uint8Array, a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = hay.slice();
  for (let i = 0; i + a.length <= out.length; i++) {
    if (a.every((x, j) => out[i + j] === x)) out.set(b, i);
  }
  return out;
}

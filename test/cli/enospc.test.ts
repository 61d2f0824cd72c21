// A full disk (ENOSPC) while an output is written: one line naming the output file, and nothing
// of the output left behind (no partial file, no temporary file, an older output unchanged).
// The disk is made full by the file system seam every writer goes through: Node's own fs module
// (the guarded writer's file handles, and h5wasm's Node build, which writes .h5 files through
// fs.writeSync) fails a write into the test's output folder with a real ENOSPC error once the
// folder holds a few KiB, as a full disk does: the first writes land, a later one fails.
// (No mount: CI may not be allowed one. A real 64 KiB tmpfs gives the same messages by hand.)
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { initKernels } from '../../src/wasm/loader.js';
import { REPO_ROOT } from '../support/corpus.js';

type Fs = typeof import('node:fs');
type FsPromises = typeof import('node:fs/promises');
const fs = process.getBuiltinModule('node:fs') as Fs;
const fsp = process.getBuiltinModule('node:fs/promises') as FsPromises;

const tmp = mkdtempSync(join(tmpdir(), 'nnport-enospc-'));
const LENET = join(REPO_ROOT, 'test/fixtures/models/lenet/model.onnx');
const LENET_X = join(REPO_ROOT, 'test/fixtures/models/lenet/input.npy');
/** bytes the "disk" takes before it is full (lenet's outputs are ~250 KB) */
const ROOM = 16 << 10;

let out = '';
let used = 0;
const fdPaths = new Map<number, string>();
const inOut = (p: unknown) => typeof p === 'string' && resolve(p).startsWith(out + '/');

function enospc(syscall: string): Error {
  return Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}`), { errno: -28, code: 'ENOSPC', syscall });
}

/** How many of `length` bytes still fit; throws ENOSPC when none do. */
function room(length: number, syscall: string): number {
  if (used >= ROOM && length > 0) throw enospc(syscall);
  const n = Math.min(length, ROOM - used);
  used += n;
  return n;
}

const original = { open: fsp.open, openSync: fs.openSync, writeSync: fs.writeSync, closeSync: fs.closeSync };

beforeAll(async () => {
  await initKernels();
  fsp.open = (async (path: Parameters<FsPromises['open']>[0], ...rest: unknown[]) => {
    const fh = await (original.open as (...a: unknown[]) => Promise<import('node:fs/promises').FileHandle>)(path, ...rest);
    if (!inOut(path)) return fh;
    const write = fh.write.bind(fh) as (b: Uint8Array, o: number, l: number) => Promise<{ bytesWritten: number; buffer: Uint8Array }>;
    (fh as unknown as { write: typeof write }).write = async (b, o, l) => write(b, o, room(l, 'write'));
    return fh;
  }) as FsPromises['open'];
  fs.openSync = ((path: Parameters<Fs['openSync']>[0], ...rest: unknown[]) => {
    const fd = (original.openSync as (...a: unknown[]) => number)(path, ...rest);
    if (inOut(path)) fdPaths.set(fd, String(path));
    return fd;
  }) as Fs['openSync'];
  fs.closeSync = ((fd: number) => {
    fdPaths.delete(fd);
    return original.closeSync(fd);
  }) as Fs['closeSync'];
  fs.writeSync = ((fd: number, buffer: NodeJS.ArrayBufferView | string, ...rest: unknown[]) => {
    if (!fdPaths.has(fd) || typeof buffer === 'string') return (original.writeSync as (...a: unknown[]) => number)(fd, buffer, ...rest);
    // (fd, buffer, offset, length, position)
    const [offset = 0, length = buffer.byteLength, position] = rest as [number?, number?, (number | null)?];
    return original.writeSync(fd, buffer, offset, room(length, 'write'), position);
  }) as Fs['writeSync'];
});

afterAll(() => {
  Object.assign(fsp, { open: original.open });
  Object.assign(fs, { openSync: original.openSync, writeSync: original.writeSync, closeSync: original.closeSync });
  rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
function freshOut(): string {
  out = join(tmp, `out${n++}`);
  mkdirSync(out);
  used = 0;
  return out;
}
afterEach(() => {
  out = '';
});

async function cli(...argv: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await main(argv, () => {}, (s) => err.push(s));
  return { code, err: err.join('\n') };
}

function expectFullDisk(r: { code: number; err: string }, command: string, target: string): void {
  expect(r.code, r.err).toBe(1);
  expect(r.err.split('\n'), r.err).toHaveLength(1);
  expect(r.err).toBe(`nnport ${command}: ${target}: cannot write: no space left on the device`);
}

describe('a full disk while writing an output', () => {
  for (const ext of ['onnx', 'tflite', 'pb', 'h5']) {
    it(`convert -o model.${ext}: one line naming it, no partial or temporary file, an older output unchanged`, { timeout: 60_000 }, async () => {
      const dir = freshOut();
      const target = join(dir, `model.${ext}`);
      expectFullDisk(await cli('convert', LENET, '-o', target), 'convert', target);
      expect(used).toBe(ROOM); // the disk did fill up: the failing write came after others landed
      expect(readdirSync(dir)).toEqual([]);
      // an older output of the same name survives a failed conversion as it was
      writeFileSync(target, 'the older output');
      used = 0;
      expectFullDisk(await cli('convert', LENET, '-o', target), 'convert', target);
      expect(readdirSync(dir)).toEqual([`model.${ext}`]);
      expect(readFileSync(target, 'utf8')).toBe('the older output');
    });
  }

  it('convert with external data: the sidecar that fit is removed with the rest', { timeout: 60_000 }, async () => {
    const dir = freshOut();
    const target = join(dir, 'model.onnx');
    const r = await cli('convert', LENET, '-o', target, '--external-data', '1024');
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(new RegExp(`^nnport convert: ${dir}/model\\.onnx(\\.data|_data|\\.bin)?.*: cannot write: no space left on the device$`));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('run -o y.npy and --dump DIR: one line, nothing left', { timeout: 60_000 }, async () => {
    const dir = freshOut();
    // the output tensor is 40 bytes: the disk is full already
    used = ROOM;
    const y = join(dir, 'y.npy');
    expectFullDisk(await cli('run', LENET, '--input', LENET_X, '-o', y), 'run', y);
    expect(readdirSync(dir)).toEqual([]);
    used = 0;
    const dump = join(dir, 'dump');
    const r = await cli('run', LENET, '--input', LENET_X, '--dump', dump);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(new RegExp(`^nnport run: ${dump}/.*\\.npy: cannot write: no space left on the device$`));
    expect(readdirSync(dir)).toEqual([]);
  });
});

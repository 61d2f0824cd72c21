// The zip container against Python's zipfile: deflated and zip64 entries in, CRC-checked stored entries out.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32, writeZip, ZipReader } from '../../../src/io/zip.js';
import { havePythonTorch, PY } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'nnport-zip-'));

describe('zip container', () => {
  it('reads stored, deflated and zip64 entries that Python wrote', (ctx) => {
    if (!havePythonTorch()) return ctx.skip();
    execFileSync(PY, ['-c', `
import zipfile
data = bytes(range(256)) * 1000
with zipfile.ZipFile('${dir}/py.zip', 'w') as z:
    z.writestr(zipfile.ZipInfo('stored.bin'), data, compress_type=zipfile.ZIP_STORED)
    z.writestr('deflated.bin', data, compress_type=zipfile.ZIP_DEFLATED)
    with z.open('zip64.bin', 'w', force_zip64=True) as f:
        f.write(data[:1000])
    z.writestr('empty', b'')
`]);
    const want = new Uint8Array(256000).map((_, i) => i % 256);
    const zip = ZipReader.open(new Uint8Array(readFileSync(join(dir, 'py.zip'))), 'py.zip');
    expect([...zip.entries.keys()]).toEqual(['stored.bin', 'deflated.bin', 'zip64.bin', 'empty']);
    expect(zip.entry('deflated.bin').method).toBe(8);
    expect(Buffer.from(zip.readVerified('stored.bin')).equals(Buffer.from(want))).toBe(true);
    expect(Buffer.from(zip.readVerified('deflated.bin')).equals(Buffer.from(want))).toBe(true);
    expect(Buffer.from(zip.readVerified('zip64.bin')).equals(Buffer.from(want.subarray(0, 1000)))).toBe(true);
    expect(zip.read('empty').byteLength).toBe(0);
  });

  it('writes archives Python reads with CRC checks, entries aligned when asked', (ctx) => {
    const entries = [
      { name: 'a/data.pkl', data: new Uint8Array([1, 2, 3]) },
      { name: 'a/data/0', data: new Uint8Array(1000).map((_, i) => i * 7) },
      { name: 'é.npy', data: new Uint8Array(0) },
    ];
    const bytes = writeZip(entries, { align: 64 });
    const back = ZipReader.open(bytes, 'mine.zip');
    for (const e of entries) {
      const got = back.readVerified(e.name);
      expect(Buffer.from(got).equals(Buffer.from(e.data))).toBe(true);
      if (e.data.byteLength) expect(got.byteOffset % 64).toBe(0);
    }
    if (!havePythonTorch()) return ctx.skip();
    writeFileSync(join(dir, 'mine.zip'), bytes);
    const out = execFileSync(PY, ['-c', `
import zipfile
z = zipfile.ZipFile('${dir}/mine.zip')
assert z.testzip() is None
print(','.join(i.filename + ':' + str(i.file_size) for i in z.infolist()))
`], { encoding: 'utf8' });
    expect(out.trim()).toBe('a/data.pkl:3,a/data/0:1000,é.npy:0');
  });

  it('crc32 matches known values', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

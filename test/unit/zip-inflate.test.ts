import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { ZipReader } from '../../src/io/zip.js';
import { FormatError } from '../../src/ir/errors.js';
import { rng } from '../support/rng.js';

// One deflated entry; `claim` rewrites the uncompressed size in both headers.
function deflatedZip(data: Uint8Array, claim?: number): Uint8Array {
  const zip = zipSync({ 'a.bin': [data, { level: 6 }] });
  if (claim === undefined) return zip;
  const dv = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  for (let i = 0; i + 4 <= zip.length; i++) {
    const sig = dv.getUint32(i, true);
    if (sig === 0x04034b50) dv.setUint32(i + 22, claim, true); // local header: uncompressed size
    if (sig === 0x02014b50) dv.setUint32(i + 24, claim, true); // central directory: uncompressed size
  }
  return zip;
}

describe('zip: deflated entries', () => {
  // random bytes barely compress, so deflate's 1:1032 bound allows a 200 MB claim
  const r = rng(5);
  const data = new Uint8Array(300_000).map(() => Math.floor(r() * 256));

  it('inflate to exactly what was stored', () => {
    const out = ZipReader.open(deflatedZip(data), 'ok.zip').read('a.bin');
    expect(out).toEqual(data);
  });

  it('a size claim larger than the data is an error, and memory follows the real data', () => {
    const zip = deflatedZip(data, 200_000_000); // possible for the compressed size, but a lie
    const before = process.memoryUsage().arrayBuffers;
    expect(() => ZipReader.open(zip, 'big-claim.zip').read('a.bin')).toThrow(/big-claim\.zip.*inflates to 300000 bytes, the directory says 200000000/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(50_000_000);
  });

  it('a size claim smaller than the data stops inflating at the claim', () => {
    expect(() => ZipReader.open(deflatedZip(data, 1000), 'small-claim.zip').read('a.bin')).toThrow(FormatError);
  });
});

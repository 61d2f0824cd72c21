// The guarded writer: no command writes over a file it read (whatever the path looks like),
// folder outputs must be new or empty, and an interrupted write leaves nothing behind.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/formats/numpy/index.js';
import { writeOnnx } from '../../src/formats/onnx/write.js';
import { emptyGraph, type Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { writeSafetensors } from '../../src/formats/safetensors/index.js';
import { cli } from '../support/cli.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'nnport-writer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

function folder(name: string): string {
  const d = join(tmp, name);
  mkdirSync(d, { recursive: true });
  return d;
}

/** x -> Relu -> h -> Neg -> y (and a second output z = Relu(x) when `two`); w is an initializer. */
function smallGraph(two = false, weightElems = 16): Graph {
  const g = emptyGraph('small');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [4] });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [4] });
  g.initializers.set('w', Tensor.float32([weightElems], Array.from({ length: weightElems }, (_, i) => i % 7)));
  g.nodes.push({ name: 'relu', opType: 'Relu', domain: '', inputs: ['x'], outputs: ['h'], attrs: {} });
  g.nodes.push({ name: 'neg', opType: 'Neg', domain: '', inputs: ['h'], outputs: ['y'], attrs: {} });
  if (two) {
    g.outputs.push({ name: 'z', dtype: 'float32', shape: [4] });
    g.nodes.push({ name: 'relu2', opType: 'Relu', domain: '', inputs: ['x'], outputs: ['z'], attrs: {} });
  }
  return g;
}

function setup(name: string, two = false): { dir: string; model: string; input: string } {
  const dir = folder(name);
  const model = join(dir, 'model.onnx');
  writeFileSync(model, writeOnnx(smallGraph(two)));
  const input = join(dir, 'x.npy');
  writeFileSync(input, writeNpy(Tensor.float32([4], [1, -2, 3, -4])));
  return { dir, model, input };
}

function noInternalError(r: { err: string }): void {
  expect(r.err).not.toMatch(/internal error/);
}

describe('guarded writer', () => {
  it('run --dump into a folder holding the input: refused unless --force, and never over the input', async () => {
    const { dir, model } = setup('dump');
    // the input file is named like a value the dump writes (h.npy)
    const input = join(dir, 'h.npy');
    writeFileSync(input, writeNpy(Tensor.float32([4], [1, -2, 3, -4])));
    const before = sha(input);
    let r = await cli('run', model, '--input', input, '--dump', dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/output folder is not empty.*--force/);
    r = await cli('run', model, '--input', input, '--dump', dir, '--force');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/refusing to overwrite the input file .*h\.npy/);
    noInternalError(r);
    expect(sha(input)).toBe(before);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('run -o DIR with several outputs never replaces an --input of the same name', async () => {
    const { dir, model } = setup('outdir', true);
    const input = join(dir, 'z.npy');
    writeFileSync(input, writeNpy(Tensor.float32([4], [1, -2, 3, -4])));
    const before = sha(input);
    const r = await cli('run', model, '--input', input, '-o', dir, '--force');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/refusing to overwrite the input file .*z\.npy/);
    expect(sha(input)).toBe(before);
    // a new folder is fine
    const ok = await cli('run', model, '--input', input, '-o', join(dir, 'fresh'));
    expect(ok.code).toBe(0);
    expect(readdirSync(join(dir, 'fresh')).sort()).toEqual(['index.json', 'y.npy', 'z.npy']);
  });

  it('transplant --report over the --into model, directly or through a symlink, is refused', async () => {
    const dir = folder('report');
    const into = join(dir, 'into.onnx');
    writeFileSync(into, writeOnnx(smallGraph()));
    const weights = join(dir, 'w.safetensors');
    writeFileSync(weights, writeSafetensors(new Map([['w', Tensor.float32([16], Array.from({ length: 16 }, (_, i) => -i))]])));
    symlinkSync(into, join(dir, 'report-link.json'));
    const before = [sha(into), sha(weights)];
    for (const report of [into, join(dir, 'report-link.json'), join(dir, '..', 'report', 'w.safetensors')]) {
      const r = await cli('transplant', weights, '--into', into, '-o', join(dir, 'out.onnx'), '--report', report);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(/refusing to overwrite the input file/);
      noInternalError(r);
    }
    expect([sha(into), sha(weights)]).toEqual(before);
    expect(existsSync(join(dir, 'out.onnx'))).toBe(false);
    const ok = await cli('transplant', weights, '--into', into, '-o', join(dir, 'out.onnx'), '--report', join(dir, 'r.json'));
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')).matched).toHaveLength(1);
  });

  it("convert --external-data never writes over the input model's own external data; nothing is half-written", async () => {
    const dir = folder('extdata');
    // an input whose external data file is named like the output's sidecar (out.onnx.data)
    const sidecars = new Map<string, Uint8Array>();
    const bytes = writeOnnx(smallGraph(false, 64), { fileName: 'out.onnx', externalDataThreshold: 16, sidecars });
    const input = join(dir, 'in.onnx');
    writeFileSync(input, bytes);
    const [[dataName, data]] = [...sidecars];
    writeFileSync(join(dir, dataName!), data!);
    const before = [sha(input), sha(join(dir, dataName!))];
    const r = await cli('convert', input, '-o', join(dir, 'out.onnx'), '--external-data', '16');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/refusing to overwrite the input file .*out\.onnx\.data/);
    expect([sha(input), sha(join(dir, dataName!))]).toEqual(before);
    expect(existsSync(join(dir, 'out.onnx'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('-o may replace an older output; not a folder, a device, or a path under a file', async () => {
    const { dir, model, input } = setup('replace');
    const out = join(dir, 'y.npy');
    expect((await cli('run', model, '--input', input, '-o', out)).code).toBe(0);
    expect((await cli('run', model, '--input', input, '-o', out)).code).toBe(0);
    symlinkSync('/dev/null', join(dir, 'null.npy'));
    let r = await cli('run', model, '--input', input, '-o', join(dir, 'null.npy'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/null\.npy: is a character device/);
    r = await cli('convert', model, '-o', join(input, 'sub.onnx'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/x\.npy\/sub\.onnx.*not a folder/);
    noInternalError(r);
    r = await cli('convert', model, '-o', join(dir, 'no', 'such', 'folder', 'm.onnx'));
    expect(r.code).toBe(0); // folders of a file output are made
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} during a long conversion leaves neither the target nor a temp file, and the input unchanged`, { timeout: 60_000 }, async () => {
      const dir = folder(`signal-${signal}`);
      const input = join(dir, 'big.onnx');
      if (!existsSync(input)) writeFileSync(input, writeOnnx(smallGraph(false, 16 << 20)));
      const before = sha(input);
      const outDir = folder(`signal-${signal}-out`);
      const target = join(outDir, 'big-copy.onnx');
      const child = spawn(process.execPath, [join(ROOT, 'bin/nnport.js'), 'convert', input, '-o', target], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += String(d)));
      const exited = new Promise<number | null>((res) => child.on('exit', (code, sig) => res(code ?? (sig ? 128 : null))));
      // wait until the temporary output exists: the signal then lands in the middle of the write
      let sawTemp = false;
      for (let i = 0; i < 20_000 && child.exitCode === null; i++) {
        if (readdirSync(outDir).some((f) => f.endsWith('.tmp'))) {
          sawTemp = true;
          break;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      child.kill(signal);
      const code = await exited;
      expect(sawTemp, `no temp file seen; stderr: ${stderr}`).toBe(true);
      expect(code).toBe(signal === 'SIGINT' ? 130 : 143);
      expect(readdirSync(outDir)).toEqual([]);
      expect(sha(input)).toBe(before);
    });
  }
});

// Permission errors cannot happen to root, and the tests run as root (in CI too): the CLI is
// spawned as the unprivileged user nobody (uid/gid 65534), in folders it may read but not write.
const IS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;
describe(IS_ROOT ? 'permission denied (EACCES), as the unprivileged user nobody' : 'permission denied (EACCES): SKIPPED, the tests do not run as root, so they cannot spawn the CLI as another user', () => {
  /** The built CLI as nobody: exit code and stderr. */
  function asNobody(...args: string[]): { code: number | null; err: string } {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/nnport.js'), ...args], { uid: NOBODY, gid: NOBODY, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, err: r.stderr.trim() };
  }
  /** A folder nobody may enter and read but not write (tmp itself is 0700 from mkdtemp). */
  function readOnlyFolder(name: string): ReturnType<typeof setup> {
    chmodSync(tmp, 0o755);
    const s = setup(name);
    chmodSync(s.dir, 0o755);
    return s;
  }
  function refused(r: { code: number | null; err: string }, path: RegExp): void {
    expect(r.code, r.err).toBe(1);
    expect(r.err.split('\n'), r.err).toHaveLength(1);
    expect(r.err).toMatch(path);
    expect(r.err).toMatch(/permission denied/);
    noInternalError(r);
  }

  it.skipIf(!IS_ROOT)('an input file nobody may not read', () => {
    const { model } = readOnlyFolder('eacces-in');
    chmodSync(model, 0o600);
    refused(asNobody('inspect', model), /model\.onnx: permission denied/);
  });

  it.skipIf(!IS_ROOT)('an input in a folder nobody may not enter', () => {
    const { dir, model } = readOnlyFolder('eacces-dir');
    chmodSync(dir, 0o700);
    refused(asNobody('inspect', model), /model\.onnx: permission denied/);
  });

  it.skipIf(!IS_ROOT)('external data nobody may not read: the model and the sidecar are named', () => {
    const { dir } = readOnlyFolder('eacces-sidecar');
    const sidecars = new Map<string, Uint8Array>();
    const model = join(dir, 'ext.onnx');
    writeFileSync(model, writeOnnx(smallGraph(false, 64), { fileName: 'ext.onnx', externalDataThreshold: 16, sidecars }));
    const [[dataName, data]] = [...sidecars];
    writeFileSync(join(dir, dataName!), data!, { mode: 0o600 });
    refused(asNobody('inspect', model), /ext\.onnx.*ext\.onnx\.data.*permission denied/);
  });

  it.skipIf(!IS_ROOT)('an output folder nobody may not write: convert -o, run -o and --dump', () => {
    const { dir, model, input } = readOnlyFolder('eacces-out');
    chmodSync(model, 0o644);
    chmodSync(input, 0o644);
    refused(asNobody('convert', model, '-o', join(dir, 'out.onnx')), /out\.onnx.*permission denied/);
    refused(asNobody('run', model, '--input', input, '-o', join(dir, 'y.npy')), /y\.npy.*permission denied/);
    refused(asNobody('run', model, '--input', input, '--dump', join(dir, 'dump')), /dump.*permission denied/);
    refused(asNobody('convert', model, '-o', join(dir, 'new', 'folder', 'out.onnx')), /new.*permission denied/);
    expect(readdirSync(dir).sort()).toEqual(['model.onnx', 'x.npy']);
  });
});

// Tiny files that claim huge work: each is generated here (test/fuzz/hostile.ts), given to the
// real CLI (spawned under /usr/bin/time, so its memory and CPU time can be measured), and must
// be refused with a typed one-line error within 2 s and 500 MB RSS, as issue #8 asks. The 2 s
// is CPU time (user + sys), not wall time: eight engineers share this 2-core machine, and a
// refusal that takes 0.5 s of CPU can take 3 s of wall time while others build. Wall time only
// has a hang guard (20 s). A bomb that got through would take tens of seconds and gigabytes.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/formats/numpy/index.js';
import { writeSafetensors } from '../../src/formats/safetensors/index.js';
import type { Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { corpusPath } from '../support/corpus.js';
import { writeZip } from '../../src/io/zip.js';
import {
  deflatedNpz,
  npyWithShape,
  onnxManyEmpty,
  onnxOpModel,
  onnxRankInitializer,
  onnxRankValueInfo,
  onnxWithGraphFields,
  safetensorsRaw,
  tfliteTensors,
  torchLegacy,
  torchZip,
  type TorchView,
} from '../fuzz/hostile.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'nnport-bombs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
/** CPU seconds (user + sys) and peak RSS a refusal may take: the bounds. */
const MAX_CPU_SECONDS = 2;
const MAX_RSS_KB = 500 * 1024;
/** only against hangs: a refusal blocked on something (a FIFO, a lock) uses no CPU */
const MAX_WALL_SECONDS = 20;

interface Outcome {
  code: number | null;
  stderr: string;
  seconds: number;
  cpu: number;
  rssKb: number;
}

/** Run the built CLI under /usr/bin/time: exit code, stderr, wall and CPU seconds, peak RSS. */
function nnport(...args: string[]): Outcome {
  const timing = join(tmp, `time-${Math.random().toString(36).slice(2)}.txt`);
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timing, process.execPath, join(ROOT, 'bin/nnport.js'), ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 });
  const [seconds, user, sys, rss] = readFileSync(timing, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { code: r.status, stderr: r.stderr.trim(), seconds: seconds!, cpu: user! + sys!, rssKb: rss! };
}

const measured: string[] = [];
afterAll(() => console.log(`bombs (wall s, cpu s, peak RSS MB):\n${measured.join('\n')}`));

function expectRefused(o: Outcome, message: RegExp): void {
  measured.push(`  ${o.seconds.toFixed(2)}  ${o.cpu.toFixed(2)}  ${(o.rssKb / 1024).toFixed(0)}  ${o.stderr.slice(0, 110)}`);
  expect(o.code, o.stderr).toBe(1);
  expect(o.stderr).toMatch(message);
  expect(o.stderr.split('\n')).toHaveLength(1);
  expect(o.stderr).not.toMatch(/internal error/);
  expect(o.cpu, `${o.stderr}: ${o.cpu} s of CPU`).toBeLessThan(MAX_CPU_SECONDS);
  expect(o.seconds, o.stderr).toBeLessThan(MAX_WALL_SECONDS);
  expect(o.rssKb, o.stderr).toBeLessThan(MAX_RSS_KB);
}

function file(name: string, bytes: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

const opModel = (name: string, node: Parameters<typeof onnxOpModel>[1], inits: Record<string, Tensor>): string => file(`${name}.onnx`, onnxOpModel(name, node, inits));

const x = join(tmp, 'x.npy');
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) execFileSync('npm', ['run', 'build:ts'], { cwd: ROOT, stdio: 'ignore' });
  writeFileSync(x, writeNpy(Tensor.float32([1], [1])));
});

describe('runtime ops whose output size comes from data are checked before allocating', () => {
  const cases: Array<[string, () => string]> = [
    ['Expand', () => opModel('expand', { opType: 'Expand', inputs: ['x', 's'] }, { s: Tensor.int64([2], [50_000, 50_000]) })],
    ['Tile', () => opModel('tile', { opType: 'Tile', inputs: ['x', 'r'] }, { r: Tensor.int64([1], [2_000_000_000]) })],
    ['Range', () => opModel('range', { opType: 'Range', inputs: ['a', 'b', 'c'] }, { a: Tensor.float32([], [0]), b: Tensor.float32([], [1e12]), c: Tensor.float32([], [1]) })],
    ['ConstantOfShape', () => opModel('cos', { opType: 'ConstantOfShape', inputs: ['s'] }, { s: Tensor.int64([3], [4000, 4000, 4000]) })],
    ['Pad', () => opModel('pad', { opType: 'Pad', inputs: ['x', 'p'] }, { p: Tensor.int64([2], [0, 2_000_000_000]) })],
    ['OneHot', () => opModel('onehot', { opType: 'OneHot', inputs: ['i', 'd', 'v'] }, { i: Tensor.int64([1000], new Array(1000).fill(1)), d: Tensor.int64([], [10_000_000]), v: Tensor.float32([2], [0, 1]) })],
    ['Resize', () => opModel('resize', { opType: 'Resize', inputs: ['x4', '', 'sc'] }, { x4: Tensor.float32([1, 1, 1, 1], [1]), sc: Tensor.float32([4], [1, 1, 30_000, 30_000]) })],
  ];
  for (const [op, make] of cases) {
    it(`${op}: a ResourceError naming the node and --max-memory`, () => {
      const o = nnport('run', make(), '--input', x);
      expectRefused(o, new RegExp(`node '.*' \\(${op}\\).*over the limit of .*raise it with --max-memory`));
    });
  }

  it('--max-memory lowers (and raises) the limit', () => {
    const m = opModel('expand-small', { opType: 'Expand', inputs: ['x', 's'] }, { s: Tensor.int64([1], [1 << 20]) });
    expect(nnport('run', m, '--input', x).code).toBe(0);
    expectRefused(nnport('run', m, '--input', x, '--max-memory', '1M'), /4\.00 MiB .*over the limit of 1\.00 MiB/);
    expectRefused(nnport('run', m, '--input', x, '--max-memory', 'lots'), /--max-memory needs a size/);
  });
});

describe('a Loop whose trip count comes from the file stops at the iteration bound', () => {
  // x -> x, M times: M = 1e12 would keep a command busy for days
  const body: Graph = {
    name: 'body',
    nodes: [
      { name: 'keep', opType: 'Identity', domain: '', inputs: ['c_in'], outputs: ['c_out'], attrs: {} },
      { name: 'same', opType: 'Identity', domain: '', inputs: ['x_in'], outputs: ['x_out'], attrs: {} },
    ],
    inputs: [{ name: 'i', dtype: 'int64', shape: [] }, { name: 'c_in', dtype: 'bool', shape: [] }, { name: 'x_in', dtype: 'float32', shape: [1] }],
    outputs: [{ name: 'c_out', dtype: 'bool', shape: [] }, { name: 'x_out', dtype: 'float32', shape: [1] }],
    initializers: new Map(),
    opsets: { '': 16 },
  };
  const loop = (m: number): string =>
    opModel(`loop-${m}`, { opType: 'Loop', inputs: ['M', 'c', 'x'], attrs: { body: { type: 'graph', value: body } } }, { M: Tensor.int64([], [m]), c: new Tensor('bool', [], Uint8Array.of(1)) });

  it('--max-loop-iterations lowers the bound; the error names the node and the flag', () => {
    expectRefused(nnport('run', loop(1e12), '--input', x, '--max-loop-iterations', '1000'), /Loop 'loop-1000000000000': its iterations reach 1001, over the limit of 1000 \(raise it with --max-loop-iterations/);
    expect(nnport('run', loop(500), '--input', x, '--max-loop-iterations=1000').code).toBe(0);
    expectRefused(nnport('run', loop(500), '--input', x, '--max-loop-iterations', '2.5'), /--max-loop-iterations needs a positive whole number/);
  });
});

describe('readers bound what a small file can make them allocate', () => {
  it('an npz whose honest deflate inflates 1 MB into 1 GiB', () => {
    const npz = file('bomb.npz', deflatedNpz(2 ** 28));
    expectRefused(nnport('inspect', npz), /bomb\.npz: inflating zip entry 'w\.npy'.*1\.00 GiB.*over the limit of 256\.0 MiB.*--max-memory/);
  });

  it('a .pth whose honest deflate inflates 4 MB into 4 GiB', () => {
    const n = 2 ** 30 - 1024; // 4 GiB less 4 KiB: the largest a plain (not zip64) entry can say
    const pth = file('inflate.pth', torchZip([{ name: 'w', storage: '0', offset: 0, shape: [n], stride: [1] }], [{ key: '0', numel: n }], { deflate: true }));
    expectRefused(nnport('inspect', pth), /inflate\.pth: inflating zip entry 'archive\/data\/0'.*4\.00 GiB.*over the limit of 256\.0 MiB/);
  });

  // 24 views of one 4-byte storage, each 64 Mi elements long: 6 GiB from a 4 KB file
  const expanded: TorchView[] = Array.from({ length: 24 }, (_, i) => ({ name: `w${i}`, storage: '0', offset: 0, shape: [64 << 20], stride: [0] }));
  for (const [kind, make] of [['zip', torchZip], ['legacy', torchLegacy]] as const) {
    it(`a ${kind} .pth of stride-0 views that would expand 4 KB into 6 GiB`, () => {
      const pth = file(`expanded-${kind}.pth`, make(expanded, [{ key: '0', numel: 1 }]));
      expectRefused(nnport('inspect', pth), /expanded-\w+\.pth: 24 tensors gathered from strided views \(the largest, 'w0' \[67108864\].*6\.00 GiB.*over the limit of 256\.0 MiB/);
    });
  }

  it('a .pth of overlapping views over one storage, each within its bound', () => {
    // 64 transposed 2048x2048 windows of one 4M-element storage: 1 GiB of copies from 16 MB
    const views = Array.from({ length: 64 }, (_, i): TorchView => ({ name: `w${i}`, storage: '0', offset: i, shape: [2048, 2048], stride: [1, 2048] }));
    const pth = file('overlap.pth', torchZip(views, [{ key: '0', numel: (4 << 20) + 64 }]));
    expectRefused(nnport('inspect', pth), /overlap\.pth: 64 tensors gathered from strided views.*1\.00 GiB.*over the limit of 512\.\d MiB/);
  });

  it('a 10 MB pickle of ten million opcodes', () => {
    const ops = new Uint8Array(10 << 20).fill(0x4e); // NONE
    const data = new Uint8Array(ops.length + 3);
    data.set([0x80, 2]);
    data.set(ops, 2);
    data[data.length - 1] = 0x2e;
    const pt = file('ops.pt', writeZip([{ name: 'archive/data.pkl', data }, { name: 'archive/version', data: new TextEncoder().encode('3\n') }]));
    expectRefused(nnport('inspect', pt), /ops\.pt: data\.pkl: the number of opcodes .* over the limit of \d+/);
  });

  it('a 10 MB ONNX initializer of rank ten million', () => {
    const p = file('rank.onnx', onnxWithGraphFields(onnxRankInitializer(10_000_000)));
    expectRefused(nnport('inspect', p), /rank\.onnx: a tensor at offset \d+: its rank is 10000000, over the limit of 64/);
  });

  it('a 10 MB ONNX value_info of rank 2.5 million', () => {
    const p = file('rank-vi.onnx', onnxWithGraphFields(onnxRankValueInfo(2_500_000)));
    expectRefused(nnport('inspect', p), /rank-vi\.onnx: a shape at offset \d+: its rank is 65, over the limit of 64/);
  });

  for (const [what, tag] of [['initializers', 0x2a], ['nodes', 0x0a], ['value_infos', 0x6a]] as const) {
    it(`a 10 MB ONNX graph of five million empty ${what}`, () => {
      const p = file(`many-${what}.onnx`, onnxWithGraphFields(onnxManyEmpty(tag, 5_000_000)));
      expectRefused(nnport('inspect', p), /many-\w+\.onnx: decoding the ONNX model \(5000\d+ messages.*over the limit of .*--max-memory/);
    });
  }

  it('a 10 MB TensorFlow GraphDef of five million empty nodes', () => {
    const head = readFileSync(corpusPath('tf-graphdef/tfrust-addition/model.pb'));
    const p = file('many-nodes.pb', Buffer.concat([head, Buffer.from(onnxManyEmpty(0x0a, 5_000_000))]));
    expectRefused(nnport('inspect', p), /many-nodes\.pb: decoding the TensorFlow GraphDef \(5000\d+ messages.*over the limit of .*--max-memory/);
  });

  it('an .npy header of rank one hundred thousand', () => {
    const p = file('rank.npy', npyWithShape(new Array(100_000).fill(1), 4));
    expectRefused(nnport('inspect', p), /rank\.npy: .*rank.*100000.*over the limit of 64/);
  });

  it('a safetensors header of rank one hundred thousand', () => {
    const p = file('rank.safetensors', safetensorsRaw({ w: { dtype: 'F32', shape: new Array(100_000).fill(1), data_offsets: [0, 4] } }, 4));
    expectRefused(nnport('inspect', p), /rank\.safetensors: .*rank.*100000.*over the limit of 64/);
  });

  it('a TFLite tensor of rank one hundred thousand', () => {
    const p = file('rank.tflite', tfliteTensors(1, new Array(100_000).fill(1)));
    expectRefused(nnport('inspect', p), /rank\.tflite: .*rank.*100000.*over the limit of 64/);
  });

  it('a safetensors file of 150k tensors is listed, not a stack overflow', () => {
    const m = new Map<string, Tensor>();
    for (let i = 0; i < 150_000; i++) m.set(`t${i}`, new Tensor('float32', [1], Float32Array.of(i)));
    const o = nnport('inspect', file('many.safetensors', writeSafetensors(m)));
    expect(o.code, o.stderr).toBe(0);
    expect(o.stderr).toBe('');
  });
});

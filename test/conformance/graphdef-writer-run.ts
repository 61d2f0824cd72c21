// The GraphDef writer suite's I/O with its Python oracles: the cases' inputs written as .npy in
// the layout each Placeholder declares, scripts/fixtures/tf_conformance_run.py run once over all
// of them (restarted past a case that crashes OpenCV), and the outputs read back in ONNX's layout.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpy } from '../../src/formats/numpy/index.js';
import { dtypeFromTf } from '../../src/formats/tensorflow/data-types.js';
import { decodeGraphDef } from '../../src/formats/tensorflow/graph-def.js';
import type { DType } from '../../src/ir/dtypes.js';
import { Tensor } from '../../src/ir/tensor.js';
import { npyTensor } from '../formats/tensorflow/helpers.js';
import { REPO_ROOT } from '../support/corpus.js';
import { compareTensors } from './harness.js';

const PY = '/usr/bin/python3';
const RUNNER = join(REPO_ROOT, 'scripts/fixtures/tf_conformance_run.py');

export type Oracle = 'opencv' | 'numpy';

export interface RunCase {
  id: string;
  pb: string;
  out_dir: string;
  sets: Array<{ name: string; inputs: Array<{ name: string; npy: string }> }>;
  outputs: string[];
}

/** Per case: 'ok' or why each oracle could not run it. */
export type RunStatus = Record<Oracle, string>;

/** channels-last order of a rank-r layout: (N, C, d1..dk) -> (N, d1..dk, C) */
export const channelsLast = (r: number): number[] => (r < 3 ? [...Array(r).keys()] : [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1]);

export const inverse = (p: number[]): number[] => p.map((_, i) => p.indexOf(i));

/** TF node names as the writer makes them from IR value names. */
export const tfName = (n: string): string => {
  const r = n.replace(/[^A-Za-z0-9_./-]/g, '_');
  return /^[A-Za-z0-9.]/.test(r) ? r : `n${r}`;
};

/** Same dims, -1 matching any. */
const sameDims = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === -1 || b[i] === -1 || d === b[i]);

/** What a written .pb's Placeholder declares (dims undefined: unknown rank). */
export interface PlaceholderSpec {
  dtype?: DType;
  dims?: number[];
}

/** Every Placeholder of the written .pb, by node name, read from the bytes (not through nnport's reader). */
export function placeholderSpecs(bytes: Uint8Array, file: string): Map<string, PlaceholderSpec> {
  return new Map(
    decodeGraphDef(bytes, file)
      .node!.filter((n) => n.op === 'Placeholder')
      .map((n) => {
        const dt = dtypeFromTf(n.attr!.dtype!.type ?? 0);
        const dims = n.attr!.shape?.shape?.unknown_rank ? undefined : (n.attr!.shape?.shape?.dim ?? []).map((d) => Number(d.size));
        return [n.name!, { dtype: 'dtype' in dt ? dt.dtype : undefined, dims }] as const;
      }),
  );
}

/**
 * A case's input as the Placeholder takes it: channels-last where the writer made it so (where a
 * shape reads the same both ways, C = H = W, in a graph with NCHW spatial ops), in its dtype
 * (older test data stores bfloat16 as its uint16 bits).
 */
export function placeholderFeed(t: Tensor, ph: PlaceholderSpec, spatial: boolean): Tensor {
  let x = t;
  if (ph.dims && t.rank >= 3 && sameDims(ph.dims, channelsLast(t.rank).map((a) => t.shape[a] as number)) && (!sameDims(ph.dims, t.shape as number[]) || spatial)) x = permuteAxes(t, channelsLast(t.rank));
  if (ph.dtype === 'bfloat16' && x.dtype === 'uint16') return new Tensor('bfloat16', x.shape, x.data);
  return ph.dtype && ph.dtype !== x.dtype ? castTo(x, ph.dtype) : x;
}

/** An output of the .pb in the expected's layout and dtype, or why it cannot be. */
function align(y: Tensor, e: Tensor, spatial: boolean, opencvBlobs: boolean): Tensor | string {
  const es = e.shape as number[];
  let t = y;
  const cl = channelsLast(es.length).map((a) => es[a]!);
  const last = es.length >= 3 && y.rank === es.length && sameDims(y.shape as number[], cl);
  // channels-last where only that reads (or, read both ways, in a graph with NCHW spatial ops)
  if (last && (spatial || !sameDims(y.shape as number[], es))) t = permuteAxes(y, inverse(channelsLast(es.length)));
  else if (!sameDims(y.shape as number[], es)) {
    // OpenCV's blobs have no rank < 2 and keep unit dims its layers drop or add: same elements in the same order
    if (opencvBlobs && y.size === e.size && y.shape.filter((d) => d !== 1).join() === es.filter((d) => d !== 1).join()) t = y.reshape(es);
    else return `shape [${y.shape.join(', ')}], expected [${es.join(', ')}]`;
  }
  const floating = (d: DType) => ['float32', 'float64', 'float16', 'bfloat16'].includes(d);
  if (floating(e.dtype)) return castTo(t, 'float32');
  if (floating(t.dtype) && t.toNumbers().some((v) => !Number.isInteger(v))) return `non-integer values for a ${e.dtype} output`;
  return castTo(t, e.dtype);
}

/**
 * Why an output `y` of the .pb (OpenCV's blob when `opencvBlobs`) is not the case's `expected`
 * output, brought to its layout and dtype (float outputs compared in float32); undefined when it is.
 */
export function outputProblem(y: Tensor, expected: Tensor, spatial: boolean, opencvBlobs = false): string | undefined {
  const a = align(y, expected, spatial, opencvBlobs);
  if (typeof a === 'string') return a;
  return compareTensors(a, ['float64', 'float16', 'bfloat16'].includes(expected.dtype) ? castTo(expected, 'float32') : expected);
}

/** `t` with axis i of the result = axis perm[i] of t, copied element by element (any dtype, any rank). */
export function permuteAxes(t: Tensor, perm: number[]): Tensor {
  const s = t.shape as number[];
  const shape = perm.map((p) => s[p]!);
  const out = Tensor.zeros(t.dtype, shape);
  const src = t.data as unknown as ArrayLike<unknown>;
  const dst = out.data as unknown as { [i: number]: unknown };
  const stride = s.map((_, i) => s.slice(i + 1).reduce((a, b) => a * b, 1));
  const idx = shape.map(() => 0);
  for (let k = 0; k < out.size; k++) {
    let o = 0;
    for (let i = 0; i < perm.length; i++) o += idx[i]! * stride[perm[i]!]!;
    dst[k] = src[o];
    for (let i = shape.length - 1; i >= 0 && ++idx[i]! === shape[i]; i--) idx[i] = 0;
  }
  return out;
}

/** `t` converted element by element to `dtype` (the dtype a Placeholder declares). */
export function castTo(t: Tensor, dtype: DType): Tensor {
  if (t.dtype === dtype) return t;
  const out = Tensor.zeros(dtype, t.shape);
  const d = out.data as unknown as { [i: number]: unknown; length: number };
  const big = typeof (out.data as unknown as ArrayLike<unknown>)[0] === 'bigint' || dtype === 'int64' || dtype === 'uint64';
  t.toNumbers().forEach((v, i) => (d[i] = big ? BigInt(Math.trunc(v)) : v));
  return out;
}

export function writeInput(path: string, t: Tensor): string {
  // NumPy has no bfloat16: its bits go as uint16 (the NumPy runner widens a bfloat16 Placeholder's)
  writeFileSync(path, writeNpy(t.dtype === 'bfloat16' ? new Tensor('uint16', t.shape, t.data) : t));
  return path;
}

/** Both oracles over every case, in one Python process (restarted only past a case that kills it). */
export function runOracles(dir: string, cases: RunCase[]): Map<string, RunStatus> {
  const manifest = join(dir, 'manifest.json');
  const results = join(dir, 'results.jsonl');
  writeFileSync(manifest, JSON.stringify(cases));
  const statuses = new Map<string, RunStatus>();
  for (let attempt = 0; attempt <= cases.length; attempt++) {
    try {
      execFileSync(PY, [RUNNER, manifest, results], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
      break;
    } catch {
      // OpenCV aborted on a graph: the next run marks that case and goes on after it
      if (!existsSync(results)) throw new Error(`${RUNNER} failed before running any case`);
    }
  }
  for (const line of readFileSync(results, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    const r = JSON.parse(line) as { id: string } & RunStatus;
    statuses.set(r.id, { opencv: r.opencv, numpy: r.numpy });
  }
  return statuses;
}

/** An oracle's k-th output of a data set. */
export function oracleOutput(c: RunCase, set: string, oracle: Oracle, k: number): Tensor | undefined {
  const f = join(c.out_dir, set, `${oracle}_${k}.npy`);
  return existsSync(f) ? npyTensor(f) : undefined;
}

// One ONNX backend case through nnport's full-integer TFLite writer (int8 or int16x8), run by
// the real interpreter and by nnport's integer runtime, with onnxruntime on the int8 model's own
// (rounded) inputs as the float reference: the plumbing of tflite-int8.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ByteBuffer } from 'flatbuffers';
import * as ort from 'onnxruntime-node';
import { Model } from '../../src/formats/generated/tflite/model.js';
import { runGraph } from '../../src/runtime/executor.js';
import { convert, loadModelFiles } from '../../src/index.js';
import { NnportError } from '../../src/ir/errors.js';
import type { Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { readTflite } from '../../src/formats/tflite/read.js';
import { channelsLastPerm } from '../../src/passes/layout-permutations.js';
import { needsChannelsLast, permuteTensor } from '../../src/passes/layout.js';
import { runInteger } from '../../src/runtime/integer/index.js';
import { rng } from '../support/rng.js';
import type { OracleTensor, TfliteOracle } from '../support/tflite-oracle.js';
import { loadDataSets, type ConformanceCase, type DataSet } from './harness.js';
import { int32Io } from './tflite-writer-run.js';

export type Mode = 'int8' | 'int16x8';

/** Calibration: every data set's inputs and this many seeded perturbations of each. */
export const PERTURBATIONS = 3;
/** A perturbation adds uniform noise of this fraction of the input's own value spread. */
export const PERTURBATION = 0.05;

export interface QParams {
  scale: number;
  zeroPoint: number;
}

export interface OutputCheck {
  name: string;
  /** the output's quantization step (its scale); undefined for a non-float output (compared exactly) */
  scale?: number;
  /** largest |interpreter - integer runtime|, in output steps (integers: exact difference) */
  lsb: number;
  /** the same with the integer runtime's reference-kernel requantization */
  lsbRef: number;
  /** largest |interpreter dequantized - expected| in output steps */
  errSteps: number;
  /** largest |onnxruntime on the rounded inputs - expected| in output steps: the input rounding's share */
  inputSteps: number;
  /** integer stages of the file: ops whose output is quantized (each rounds once) */
  stages: number;
  /** weightRoundingSteps of the file for this output */
  weightSteps: number;
  /** SNR of the interpreter's dequantized output against the expected one, dB */
  snrDb: number;
  /** largest |interpreter - onnxruntime on the rounded inputs| in output steps (NaN: no reference) */
  residualSteps: number;
  /** which float runtime computed the reference on the rounded inputs */
  reference?: string;
}

export type CaseOutcome =
  | { kind: 'not-float'; reason: string }
  | { kind: 'refused'; error: string; message: string }
  | { kind: 'crash'; message: string }
  | { kind: 'load-failed'; message: string }
  | { kind: 'ran'; outputs: OutputCheck[]; ops: string[] };

const FLOAT_IN = new Set(['float32']);

/** Inputs of a graph that are fed (not initializers). */
const fedInputs = (g: Graph) => g.inputs.filter((v) => !g.initializers.has(v.name));

function perturbed(t: Tensor, next: () => number): Tensor {
  const x = t.toFloat32();
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) if (Number.isFinite(v)) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
  const spread = hi > lo ? hi - lo : Math.abs(hi) || 1;
  return Tensor.float32(t.shape, Float32Array.from(x, (v) => v + (next() * 2 - 1) * PERTURBATION * spread));
}

/** The calibration samples of a case: its data sets' inputs, then seeded perturbations of the float ones. */
export function calibrationSamples(sets: DataSet[], seed: number): Tensor[][] {
  const next = rng(seed);
  const out: Tensor[][] = sets.map((s) => s.inputs);
  for (let k = 0; k < PERTURBATIONS; k++) for (const s of sets) out.push(s.inputs.map((t) => (t.dtype === 'float32' ? perturbed(t, next) : t)));
  return out;
}

/** Scale and zero point of the file's input or output `k` (its tensor's quantization), undefined for a float one. */
export function ioParams(bytes: Uint8Array, side: 'in' | 'out', k: number): QParams | undefined {
  const sg = Model.getRootAsModel(new ByteBuffer(bytes)).subgraphs(0)!;
  const t = sg.tensors(side === 'in' ? sg.inputs(k)! : sg.outputs(k)!)!;
  const q = t.quantization();
  if (!q || q.scaleLength() === 0) return undefined;
  return { scale: q.scale(0)!, zeroPoint: Number(q.zeroPoint(0) ?? 0n) };
}

/** Output scale of a float output: the DequantizeLinear producing it. */
function floatOutputScale(g: Graph, value: string): QParams | undefined {
  const n = g.nodes.find((m) => m.opType === 'DequantizeLinear' && m.outputs[0] === value);
  if (!n) return undefined;
  return { scale: g.initializers.get(n.inputs[1]!)!.toNumbers()[0]!, zeroPoint: g.initializers.get(n.inputs[2]!)?.toNumbers()[0] ?? 0 };
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Whether the written file has input / output `shape` channels-last: the TFLite writer moves I/O
 * of graphs with NCHW ops (needsChannelsLast; src/passes/layout.ts) where their shape allows it
 * (a rank-3 1-D conv input stays as it is); the file's shape tells, channels-last where both fit.
 */
function movedIn(shape: readonly number[], fileShape: readonly number[], graphHasNchw: boolean): boolean {
  if (!graphHasNchw || shape.length < 3) return false;
  const p = channelsLastPerm(shape.length);
  return sameShape(p.map((i) => shape[i]!), fileShape);
}

const toFileLayout = (t: Tensor, moved: boolean): Tensor => (moved ? permuteTensor(t, channelsLastPerm(t.rank)) : t);

/** A file-layout output back to the case's layout. */
function toCaseLayout(data: Float32Array, fileShape: readonly number[], moved: boolean): Float32Array {
  if (!moved) return data;
  const p = channelsLastPerm(fileShape.length);
  return permuteTensor(Tensor.float32([...fileShape], data), p.map((_, i) => p.indexOf(i))).toFloat32();
}

const quantizeArray = (x: Float32Array, p: QParams, lo: number, hi: number) => Array.from(x, (v) => Math.min(hi, Math.max(lo, Math.round(v / p.scale) + p.zeroPoint)));

function ortTensor(t: Tensor): ort.Tensor {
  switch (t.dtype) {
    case 'float32':
      return new ort.Tensor('float32', t.toFloat32(), [...t.shape]);
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(t.toNumbers(), (v) => BigInt(v)), [...t.shape]);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(t.toNumbers()), [...t.shape]);
    case 'bool':
      return new ort.Tensor('bool', Uint8Array.from(t.toNumbers()), [...t.shape]);
    default:
      throw new Error(`onnxruntime feed of ${t.dtype}`);
  }
}

function snr(want: ArrayLike<number>, got: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < want.length; i++) (s += want[i]! ** 2), (n += (want[i]! - got[i]!) ** 2);
  return n === 0 ? Infinity : 10 * Math.log10(s / n);
}

const ONNX_PASSING = new Set(
  readFileSync(new URL('./expected-pass.txt', import.meta.url), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#')),
);

interface Reference {
  name: string;
  run(feeds: Record<string, ort.Tensor>): Promise<Float32Array[] | undefined>;
  release(): Promise<void>;
}

/**
 * The float function on the int8 model's rounded inputs: onnxruntime, or where it has no kernel for
 * the case's (old) opset nnport's float runtime if the ONNX backend suite passes the case with it
 * (expected-pass.txt: it computes the case's expected outputs); undefined otherwise.
 */
async function referenceOf(c: ConformanceCase, graph: Graph): Promise<Reference | undefined> {
  const names = fedInputs(graph).map((v) => v.name);
  const nnport: Reference | undefined = !ONNX_PASSING.has(`${c.suite}/${c.name}`)
    ? undefined
    : {
      name: 'nnport float runtime (passes this case in onnx-backend.test.ts)',
      run: async (feeds) => {
        const m = new Map<string, Tensor>();
        for (const n of names) {
          const t = feeds[n]!;
          m.set(n, t.type === 'float32' ? Tensor.float32([...t.dims], t.data as Float32Array) : t.type === 'int64' ? new Tensor('int64', [...t.dims], t.data as BigInt64Array) : new Tensor(t.type as 'int32', [...t.dims], t.data as Int32Array));
        }
        const { outputs } = await runGraph(graph, m);
        return graph.outputs.map((o) => outputs.get(o.name)!.toFloat32());
      },
      release: async () => {},
    };
  try {
    const session = await ort.InferenceSession.create(join(c.dir, 'model.onnx'), { logSeverityLevel: 3 });
    return {
      name: 'onnxruntime',
      run: async (feeds) => {
        try {
          const out = await session.run(feeds);
          return session.outputNames.map((n) => Float32Array.from(out[n]!.data as Float32Array));
        } catch {
          // an op onnxruntime has no kernel for at this opset or rank (4-D linear Resize by scales)
          return nnport?.run(feeds);
        }
      },
      release: () => session.release(),
    };
  } catch {
    return nnport;
  }
}

/**
 * The most the int8 weights' rounding can move one output, in output steps, summed over the
 * file's weighted ops (conv, transposed conv, dense, matmul of an int8 constant): each output is a
 * sum over K = fan-in products x·w, each weight off by at most half its step s_w, each input at
 * most the largest magnitude its int8 / int16 grid holds: K · max|x| · max(s_w) / 2.
 */
function weightRoundingSteps(back: Graph, outScale: number): number {
  const producer = new Map(back.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  const scalar = (name: string | undefined) => (name ? back.initializers.get(name)?.toNumbers() : undefined);
  let steps = 0;
  for (const n of back.nodes) {
    if (!['Conv', 'ConvTranspose', 'Gemm', 'MatMul'].includes(n.opType)) continue;
    const wq = producer.get(n.inputs[1] ?? '');
    const xq = producer.get(n.inputs[0] ?? '');
    const w = wq?.opType === 'DequantizeLinear' ? back.initializers.get(wq.inputs[0]!) : undefined;
    const sw = wq ? scalar(wq.inputs[1]) : undefined;
    const sx = xq?.opType === 'DequantizeLinear' ? scalar(xq.inputs[1]) : undefined;
    const zx = xq?.opType === 'DequantizeLinear' ? back.initializers.get(xq.inputs[2] ?? '') : undefined;
    if (!w || !sw || !sx || !zx) continue;
    const [lo, hi] = zx.dtype === 'int16' ? [-32768, 32767] : zx.dtype === 'uint8' ? [0, 255] : [-128, 127];
    const z = zx.toNumbers()[0]!;
    const xmax = Math.max(Math.abs(lo - z), Math.abs(hi - z)) * sx[0]!;
    const kernelLayout = n.attrs.kernel_layout?.type === 'string' ? n.attrs.kernel_layout.value : 'OHWI';
    const outs = sw.length > 1 ? sw.length : n.opType === 'Gemm' ? w.shape[n.attrs.transB?.type === 'int' && n.attrs.transB.value ? 0 : 1]! : n.opType === 'MatMul' ? w.shape[w.rank - 1]! : w.shape[kernelLayout === 'OHWI' ? 0 : w.rank - 1]!;
    steps += ((w.size / outs) * xmax * Math.max(...sw)) / 2 / outScale;
  }
  return steps;
}

/** Run one case: convert, interpreter, integer runtime, onnxruntime on the rounded inputs. */
export async function runInt8Case(c: ConformanceCase, mode: Mode, oracle: Pick<TfliteOracle, 'run'>, seed: number): Promise<CaseOutcome> {
  let model;
  try {
    model = await loadModelFiles([join(c.dir, 'model.onnx')]);
  } catch (e) {
    return { kind: 'load-failed', message: String(e) };
  }
  if (model.kind !== 'graph') return { kind: 'load-failed', message: 'no graph' };
  const inputs = fedInputs(model.graph);
  if (!inputs.some((v) => FLOAT_IN.has(v.dtype))) return { kind: 'not-float', reason: `no float32 input (${inputs.map((v) => v.dtype).join(', ') || 'none'})` };
  const odd = inputs.filter((v) => !FLOAT_IN.has(v.dtype) && !['int64', 'int32', 'bool'].includes(v.dtype));
  if (odd.length) return { kind: 'not-float', reason: `input of type ${odd.map((v) => v.dtype).join(', ')}` };
  const outs = model.graph.outputs.filter((v) => v.dtype !== 'float32');
  if (outs.length) return { kind: 'not-float', reason: `output of type ${outs.map((v) => v.dtype).join(', ')}` };
  const sets = loadDataSets(c.dir, model.kind === 'graph' ? model.graph : undefined);
  if (!sets.length) return { kind: 'load-failed', message: 'no data sets' };
  let bytes: Uint8Array;
  try {
    // (int64 inputs as int32 ones and a Cast: the interpreter's Web API feeds no int64 tensor)
    bytes = (await convert(int32Io(model), 'm.tflite', { quantize: { mode, io: mode === 'int8' ? 'int8' : 'float', calibration: calibrationSamples(sets, seed) } })).bytes;
  } catch (e) {
    if (e instanceof NnportError) return { kind: 'refused', error: e.name, message: e.message };
    return { kind: 'crash', message: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e) };
  }
  const back = await readTflite(bytes);
  const channelsLast = needsChannelsLast(model.graph);
  const ops = [...new Set(back.nodes.map((n) => (n.domain ? `${n.domain}::${n.opType}` : n.opType)))];
  const backIn = fedInputs(back);
  const quantized = new Set(back.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.inputs[0]));
  const stages = Math.max(1, back.nodes.filter((n) => n.opType !== 'QuantizeLinear' && n.opType !== 'DequantizeLinear' && n.outputs.some((o) => quantized.has(o))).length);
  const reference = await referenceOf(c, model.graph);
  const checks = new Map<string, OutputCheck>();
  for (const set of sets) {
    // feeds in the file's layout and dtype; the rounded float inputs for onnxruntime
    const feeds = new Map<string, Tensor>();
    const ortFeeds: Record<string, ort.Tensor> = {};
    set.inputs.forEach((t, i) => {
      const v = backIn[i]!;
      const src = inputs[i]!;
      const fileShape = (v.shape ?? []).map((d) => (typeof d === 'number' ? d : -1));
      const shaped = toFileLayout(t, movedIn(t.shape, fileShape, channelsLast));
      if (src.dtype !== 'float32') {
        const want = v.dtype;
        feeds.set(v.name, want === t.dtype ? shaped : new Tensor(want, shaped.shape, want === 'int32' ? Int32Array.from(shaped.toNumbers()) : want === 'bool' ? Uint8Array.from(shaped.toNumbers()) : shaped.data));
        ortFeeds[src.name] = ortTensor(t);
        return;
      }
      if (!sameShape(shaped.shape, fileShape)) throw new Error(`input ${i}: case shape [${shaped.shape}] in the file's layout, the file has [${v.shape}]`);
      if (v.dtype === 'float32') {
        // int16x8: float I/O; the rounded input is the file's own QUANTIZE of it (int16 symmetric: round half away)
        feeds.set(v.name, shaped);
        const q = back.nodes.find((m) => m.opType === 'QuantizeLinear' && m.inputs[0] === v.name);
        if (q) {
          const p = { scale: back.initializers.get(q.inputs[1]!)!.toNumbers()[0]!, zeroPoint: back.initializers.get(q.inputs[2]!)!.toNumbers()[0]! };
          const [lo, hi] = back.initializers.get(q.inputs[2]!)!.dtype === 'int16' ? [-32768, 32767] : [-128, 127];
          const r = t.toFloat32().map((x) => {
            const y = x / p.scale;
            const rounded = Math.sign(y) * Math.floor(Math.abs(y) + 0.5);
            return (Math.min(hi, Math.max(lo, rounded + p.zeroPoint)) - p.zeroPoint) * p.scale;
          });
          ortFeeds[src.name] = new ort.Tensor('float32', r, [...t.shape]);
        } else ortFeeds[src.name] = ortTensor(t);
        return;
      }
      const p = ioParams(bytes, 'in', i)!;
      const [lo, hi] = v.dtype === 'int8' ? [-128, 127] : v.dtype === 'uint8' ? [0, 255] : [-32768, 32767];
      const q = quantizeArray(shaped.toFloat32(), p, lo, hi);
      feeds.set(v.name, new Tensor(v.dtype, shaped.shape, v.dtype === 'int8' ? Int8Array.from(q) : v.dtype === 'uint8' ? Uint8Array.from(q) : Int16Array.from(q)));
      const qCase = quantizeArray(t.toFloat32(), p, lo, hi);
      ortFeeds[src.name] = new ort.Tensor('float32', Float32Array.from(qCase, (k) => (k - p.zeroPoint) * p.scale), [...t.shape]);
    });
    const theirs: OracleTensor[] = await oracle.run(bytes, backIn.map((v) => feeds.get(v.name)!.data as ArrayBufferView));
    const mine = (await runInteger(back, feeds, { requantization: 'xnnpack' })).outputs;
    const mineRef = (await runInteger(back, feeds, { requantization: 'reference' })).outputs;
    const refOut = reference ? await reference.run(ortFeeds) : undefined;
    set.outputs.forEach((expected, k) => {
      const o = back.outputs[k]!;
      const t = theirs[k]!;
      const m = mine.get(o.name)!;
      const r = refOut?.[k];
      let check = checks.get(o.name);
      if (!check) checks.set(o.name, (check = { name: o.name, weightSteps: 0, stages, lsb: 0, lsbRef: 0, errSteps: 0, inputSteps: 0, snrDb: Infinity, residualSteps: 0 }));
      if (!m) {
        check.lsb = Infinity;
        return;
      }
      const tn = Array.from(t.data as ArrayLike<number>, Number);
      const mn = m.toNumbers();
      const mr = mineRef.get(o.name)!.toNumbers();
      const p = o.dtype === 'float32' ? floatOutputScale(back, o.name) : ioParams(bytes, 'out', k);
      const step = p?.scale;
      for (let i = 0; i < tn.length; i++) {
        const d = Math.abs(tn[i]! - mn[i]!);
        check.lsb = Math.max(check.lsb, Number.isNaN(d) ? Infinity : o.dtype === 'float32' && step ? d / step : d);
        const dr = Math.abs(tn[i]! - mr[i]!);
        check.lsbRef = Math.max(check.lsbRef, Number.isNaN(dr) ? Infinity : o.dtype === 'float32' && step ? dr / step : dr);
      }
      if (expected.dtype !== 'float32' || !p) return;
      check.scale = p.scale;
      check.weightSteps = weightRoundingSteps(back, p.scale);
      const dq = o.dtype === 'float32' ? Float32Array.from(tn) : Float32Array.from(tn, (v) => (v - p.zeroPoint) * p.scale);
      const got = toCaseLayout(dq, t.shape, movedIn(expected.shape, t.shape, channelsLast));
      if (got.length !== expected.size) throw new Error(`output ${k}: ${got.length} values, expected ${expected.size}`);
      const want = expected.toFloat32();
      for (let i = 0; i < want.length; i++) {
        // an expected NaN (sqrt of a negative input) has no integer: not compared
        if (Number.isNaN(want[i]!)) continue;
        check.errSteps = Math.max(check.errSteps, Math.abs(got[i]! - want[i]!) / p.scale);
        if (r) check.inputSteps = Math.max(check.inputSteps, Math.abs(r[i]! - want[i]!) / p.scale);
        if (r) check.residualSteps = Math.max(check.residualSteps, Math.abs(got[i]! - r[i]!) / p.scale);
      }
      if (!r) check.residualSteps = NaN;
      check.reference = reference?.name;
      const finite = [...want.keys()].filter((i) => !Number.isNaN(want[i]!));
      check.snrDb = Math.min(check.snrDb, snr(finite.map((i) => want[i]!), finite.map((i) => got[i]!)));
    });
  }
  await reference?.release();
  return { kind: 'ran', outputs: [...checks.values()], ops };
}

// TFLite writer: Erf, NonZero and Compress lowered into builtins (ops-gap2-write.ts), each file run by
// the real TFLite interpreter (tfjs-tflite in headless Chromium) against outputs made independently
// (scripts/fixtures/tflite_gap2.py: math.erf in double precision, PyTorch, np.compress), and read
// back by nnport's reader and run by its runtime to the same outputs.
//   erf_grid   Erf over 500 k float32 values of every magnitude (and 0, +-inf): within 4.5e-7 of erf
//   erf_gate   a PyTorch probit gate 0.5 (1 + erf(W1 x)) (W2 x)
//   nonzero    torch.nonzero(x > 0.3): WHERE, its int64 [n, 2] rows, a GATHER_ND and a sum of them
//   compress   constant conditions along an axis and over the flattened input: GATHER of constant positions
// and hand-built files (gap2-op-model.ts) of the reader's UNIQUE and an int8 byte-copy chain, vs the interpreter.
import { describe, expect, it } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { maxAbsDiff, relErr } from '../../support/error-metrics.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';
import { scriptNets } from './script-nets.js';
import { int8CopyChainFile, uniqueFile } from './gap2-op-model.js';

const oracle = useTfliteOracle();

const NETS = { erf_grid: 1, erf_gate: 1, nonzero: 2, compress: 2 } as const;
type Net = keyof typeof NETS;
const net = scriptNets<Net>('tflite_gap2.py', 'tflite-gap2', NETS);

/** The written file's outputs from the interpreter and from nnport's reader + runtime, as numbers. */
async function runBoth(name: Net, bytes: Uint8Array, input: Tensor): Promise<{ interp: { shape: number[]; values: number[] }[]; nnport: { shape: number[]; values: number[] }[] }> {
  const interp = (await oracle.run(bytes, [input.toFloat32()])).map((t) => ({ shape: t.shape, values: Array.from(t.data as ArrayLike<number>) }));
  const g = await readTflite(bytes, { fileName: `${name}.tflite` });
  const out = await runGraph(g, { [g.inputs[0]!.name]: input });
  const nnport = [...out.outputs.values()].map((t) => ({ shape: [...t.shape], values: t.toNumbers() }));
  return { interp, nnport };
}

describe('TFLite writer: Erf, NonZero, Compress as builtins', () => {
  it('erf_grid: Erf as MUL / ADD / DIV of the clamped input (no ERF builtin), within 4.5e-7 of erf over every magnitude', { timeout: 120_000 }, async () => {
    const f = await net('erf_grid');
    const bytes = await writeTflite(f.graph, { fileName: 'erf_grid.tflite' });
    const ops = tfliteOpNames(bytes, 'erf_grid');
    expect(ops).toEqual(expect.arrayContaining(['MINIMUM', 'MAXIMUM', 'MUL', 'ADD', 'DIV']));
    const want = f.outputs[0]!.toNumbers();
    const { interp, nnport } = await runBoth('erf_grid', bytes, f.input);
    const err = (got: number[]) => got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!)), 0);
    console.log(`erf_grid: max |interpreter - erf| ${err(interp[0]!.values).toExponential(2)}, nnport read-back ${err(nnport[0]!.values).toExponential(2)} over ${want.length} float32 values`);
    expect(err(interp[0]!.values)).toBeLessThanOrEqual(4.5e-7);
    expect(err(nnport[0]!.values)).toBeLessThanOrEqual(4.5e-7);
    // odd, exact at 0, saturated at the ends
    const at = (v: number) => interp[0]!.values[f.input.toNumbers().indexOf(v)];
    expect(at(0)).toBe(0);
    expect(at(Infinity)).toBe(1);
    expect(at(-Infinity)).toBe(-1);
  });

  it('erf_gate: a probit gate of a PyTorch model within 1e-6 of PyTorch', { timeout: 120_000 }, async () => {
    const f = await net('erf_gate');
    expect(f.graph.nodes.some((n) => n.opType === 'Erf')).toBe(true);
    const bytes = await writeTflite(f.graph, { fileName: 'erf_gate.tflite' });
    expect(tfliteOpNames(bytes, 'erf_gate')).not.toContain('GELU');
    const { interp, nnport } = await runBoth('erf_gate', bytes, f.input);
    const want = f.outputs[0]!.toFloat32();
    const e = relErr(Float32Array.from(interp[0]!.values), want);
    console.log(`erf_gate: ${e.toExponential(2)} of PyTorch (relative to the largest), TFLite interpreter`);
    expect(e).toBeLessThanOrEqual(1e-6);
    expect(relErr(Float32Array.from(nnport[0]!.values), want)).toBeLessThanOrEqual(1e-6);
  });

  it('nonzero: WHERE rows of the true elements, PyTorch\'s indices exactly and their sum within 1e-6', { timeout: 120_000 }, async () => {
    const f = await net('nonzero');
    expect(f.graph.nodes.some((n) => n.opType === 'NonZero')).toBe(true);
    const bytes = await writeTflite(f.graph, { fileName: 'nonzero.tflite' });
    expect(tfliteOpNames(bytes, 'nonzero')).toContain('WHERE');
    const { interp, nnport } = await runBoth('nonzero', bytes, f.input);
    for (const got of [interp, nnport]) {
      expect(got[0]!.shape).toEqual([...f.outputs[0]!.shape]);
      expect(got[0]!.values).toEqual(f.outputs[0]!.toNumbers());
      expect(Math.abs(got[1]!.values[0]! - f.outputs[1]!.toNumbers()[0]!)).toBeLessThanOrEqual(1e-6);
    }
  });

  it('compress: constant conditions along an axis and over the flattened input, as GATHERs of constant positions: NumPy\'s values exactly', { timeout: 120_000 }, async () => {
    const f = await net('compress');
    const bytes = await writeTflite(f.graph, { fileName: 'compress.tflite', keepNchwIo: true });
    const ops = tfliteOpNames(bytes, 'compress');
    expect(ops).toContain('GATHER');
    expect(ops).not.toContain('WHERE');
    const { interp, nnport } = await runBoth('compress', bytes, f.input);
    for (const got of [interp, nnport]) {
      f.outputs.forEach((want, i) => {
        expect(got[i]!.shape).toEqual([...want.shape]);
        expect(maxAbsDiff(Float32Array.from(got[i]!.values), want.toFloat32())).toBe(0);
      });
    }
  });
});

describe('TFLite reader: UNIQUE and an int8 copy chain, hand-built', () => {
  it('UNIQUE read as ONNX Unique (first-occurrence order) and its positions: the interpreter\'s values exactly', { timeout: 60_000 }, async () => {
    const bytes = uniqueFile();
    const x = Float32Array.of(2.5, -1, 2.5, 7, -1, 0, 7, 3);
    const interp = await oracle.run(bytes, [x]);
    expect(Array.from(interp[0]!.data as Float32Array)).toEqual([2.5, -1, 7, 0, 3]);
    expect(Array.from(interp[1]!.data as Int32Array)).toEqual([0, 1, 0, 2, 1, 3, 2, 4]);
    const g = await readTflite(bytes, { fileName: 'unique.tflite' });
    const out = [...(await runGraph(g, { [g.inputs[0]!.name]: Tensor.float32([8], x) })).outputs.values()];
    expect(out[0]!.toNumbers()).toEqual(Array.from(interp[0]!.data as Float32Array));
    expect(out[1]!.dtype).toBe('int32');
    expect(out[1]!.toNumbers()).toEqual(Array.from(interp[1]!.data as Int32Array));
  });

  it('int8 RESHAPE -> PAD over three sets of parameters: bytes copied, padded with the last zero point, as the interpreter', { timeout: 60_000 }, async () => {
    const bytes = int8CopyChainFile();
    const x = Int8Array.from({ length: 32 }, (_, i) => ((i * 37) % 256) - 128);
    const interp = Array.from((await oracle.run(bytes, [x]))[0]!.data as Int8Array);
    expect(interp).toEqual([7, 7, 7, 7, ...Array.from(x), 7, 7, 7, 7]);
    const g = await readTflite(bytes, { fileName: 'int8-copy-chain.tflite' });
    const feeds = { [g.inputs[0]!.name]: new Tensor('int8', [1, 4, 4, 2], x) };
    expect([...(await runInteger(g, feeds)).outputs.values()][0]!.toNumbers()).toEqual(interp);
    expect([...(await runGraph(g, feeds)).outputs.values()][0]!.toNumbers()).toEqual(interp);
  });
});

// Which way the interpreter's one-rounding fixed point breaks exact ties. Its builtin GEMM (ruy)
// requantizes a per-channel FULLY_CONNECTED, and, in a model the XNNPACK delegate does not take
// (dynamic-sized tensors), every ungrouped CONV_2D, as (acc·M + 2^(T-1)) >> T, T = 31 - shift:
// measured here, a tie goes up (toward +inf), -2.5 to -2, where TFLite's reference double
// rounding (and any half-away-from-zero rule) gives -3. Random scales almost never give a tie (M
// has ~31 significant bits); here the scales are powers of two times 1, 1.25, 1.5 or 1.75
// (multipliers 2^30·{1, 1.25, 1.5, 1.75}, shift -3: ties at one accumulator in 16, 64, 32, 64) and
// the data exact multiples of the input scale: ~3 % of the outputs sit on a tie, half of them below
// zero. nnport's integer runtime must give the interpreter's bytes on its WASM kernels (float64,
// RQ_MODE_F64_NONNEG, for the small layers; 64-bit lanes, RQ_MODE_SINGLE, for the wide one: a
// half-away-from-zero mutant of those lanes fails it) and on its TypeScript kernels.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph, Node } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { rng } from '../../support/rng.js';
import { tfliteOpNames, useTfliteOracle, withStoredDim } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

const SX = 2 ** -4;
const SY = 2 ** -6;
/** per-channel weight scales: with SX and SY, multipliers 2^-4·{1, 1.25, 1.5, 1.75}, QuantizeMultiplier's 2^30·{1, 1.25, 1.5, 1.75}, shift -3 */
const weightScale = (oc: number) => 2 ** -6 * [1, 1.25, 1.5, 1.75][oc % 4]!;

const node = (opType: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ name: outputs[0]!, domain: '', opType, inputs, outputs, attrs });
const ints = (value: number[]) => ({ type: 'ints' as const, value });

/**
 * QDQ ONNX: x -> Q/DQ at SX -> `op` with int8 weights `w` (per-channel scales along
 * `axis`) -> Q/DQ at SY -> y (for `dynamic`, y then reshaped to the shape SHAPE reads from it).
 */
function qdq(op: Node, w: Int8Array, wShape: number[], axis: number, input: Graph['inputs'][0], dynamic: boolean): Graph {
  const o = wShape[axis]!;
  return {
    name: op.opType,
    nodes: [
      node('QuantizeLinear', ['x', 'sx', 'zx'], ['xq']),
      node('DequantizeLinear', ['xq', 'sx', 'zx'], ['xd']),
      node('DequantizeLinear', ['wq', 'sw', 'zw'], ['wd'], { axis: { type: 'int', value: axis } }),
      op,
      node('QuantizeLinear', ['yf', 'sy', 'zy'], ['yq']),
      node('DequantizeLinear', ['yq', 'sy', 'zy'], [dynamic ? 'yd' : 'y']),
      ...(dynamic ? [node('Shape', ['yd'], ['s']), node('Reshape', ['yd', 's'], ['y'])] : []),
    ],
    inputs: [input],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map<string, Tensor>([
      ['sx', Tensor.float32([], [SX])],
      ['zx', new Tensor('int8', [], Int8Array.of(0))],
      ['wq', new Tensor('int8', wShape, w)],
      ['sw', Tensor.float32([o], Array.from({ length: o }, (_, oc) => weightScale(oc)))],
      ['zw', new Tensor('int8', [o], new Int8Array(o))],
      ['sy', Tensor.float32([], [SY])],
      ['zy', new Tensor('int8', [], Int8Array.of(0))],
    ]),
    opsets: { '': 13 },
  };
}

const smallInts = (random: () => number, n: number, k: number) => Int8Array.from({ length: n }, () => Math.floor(random() * (2 * k + 1)) - k);

/** acc[r, o] = Σ_c x[r, c]·w[c, o] (MatMul's [C, O] weights) */
function denseAcc(x: Int8Array, w: Int8Array, R: number, C: number, O: number): Int32Array {
  const acc = new Int32Array(R * O);
  for (let r = 0; r < R; r++) for (let o = 0; o < O; o++) for (let c = 0; c < C; c++) acc[r * O + o] += x[r * C + c]! * w[c * O + o]!;
  return acc;
}

/** acc[o, y, x] (the ONNX output's NCHW order, which SHAPE / RESHAPE keep) of a 3x3 conv, padding 1, NHWC input [H, W, CI], ONNX weights [CO, CI, 3, 3] */
function convAcc(x: Int8Array, w: Int8Array, H: number, W: number, CI: number, CO: number): Int32Array {
  const acc = new Int32Array(H * W * CO);
  for (let y = 0; y < H; y++)
    for (let xo = 0; xo < W; xo++)
      for (let o = 0; o < CO; o++) {
        let sum = 0;
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++) {
            const [iy, ix] = [y + ky - 1, xo + kx - 1];
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            for (let c = 0; c < CI; c++) sum += x[(iy * W + ix) * CI + c]! * w[((o * CI + c) * 3 + ky) * 3 + kx]!;
          }
        acc[(o * H + y) * W + xo] = sum;
      }
  return acc;
}

describe('int8 one-rounding requantization at exact ties: nnport against the interpreter', () => {
  it('per-channel FULLY_CONNECTED (XNNPACK mode: its builtin kernel) and CONV_2D in a model with dynamic-sized tensors (builtin kernels): ties go up, 0 steps off', { timeout: 300_000 }, async () => {
    const random = rng(8);
    const [R, C, O] = [256, 48, 24];
    const [H, W, CI, CO] = [32, 32, 16, 20];
    const wDense = smallInts(random, C * O, 3);
    const wConv = smallInts(random, CO * CI * 9, 3);
    // a wide layer with large weights: its accumulator bound (128·Σ|w|·M) is past float64's exact
    // range, so the WASM kernels requantize in 64-bit lanes (RQ_MODE_SINGLE); sparse input codes
    // keep its actual accumulators, and so its outputs, small
    const [CW, OW] = [768, 24];
    const wWide = smallInts(random, CW * OW, 127);
    const widestSum = Math.max(...Array.from({ length: OW }, (_, o) => Array.from({ length: CW }, (_, c) => Math.abs(wWide[c * OW + o]!)).reduce((a, b) => a + b)));
    expect(128 * widestSum * 2 ** 30).toBeGreaterThan(2 ** 52);
    const cases = [
      {
        name: 'dense', op: 'FULLY_CONNECTED', shape: [R, C], channel: (i: number) => i % O,
        g: qdq(node('MatMul', ['xd', 'wd'], ['yf']), wDense, [C, O], 1, { name: 'x', dtype: 'float32', shape: [R, C] }, false),
        acc: (x: Int8Array) => denseAcc(x, wDense, R, C, O),
        file: (f: Uint8Array) => f,
        sparse: false,
      },
      {
        name: 'wide', op: 'FULLY_CONNECTED', shape: [R, CW], channel: (i: number) => i % OW,
        g: qdq(node('MatMul', ['xd', 'wd'], ['yf']), wWide, [CW, OW], 1, { name: 'x', dtype: 'float32', shape: [R, CW] }, false),
        acc: (x: Int8Array) => denseAcc(x, wWide, R, CW, OW),
        file: (f: Uint8Array) => f,
        sparse: true,
      },
      {
        name: 'conv', op: 'CONV_2D', shape: [1, H, W, CI], channel: (i: number) => Math.floor(i / (H * W)),
        g: qdq(node('Conv', ['xd', 'wd'], ['yf'], { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) }), wConv, [CO, CI, 3, 3], 0, { name: 'x', dtype: 'float32', shape: [1, CI, 'h', 'w'] }, true),
        acc: (x: Int8Array) => convAcc(x, wConv, H, W, CI, CO),
        // the interpreter sizes the run-time dims from the stored shape
        file: (f: Uint8Array) => withStoredDim(withStoredDim(f, 1, H), 2, W),
        sparse: false,
      },
    ];
    for (const c of cases) {
      const written = (await convert(await loadModel(writeOnnx(c.g), { fileName: `${c.name}.onnx` }), `${c.name}.tflite`)).bytes;
      const ops = tfliteOpNames(written, c.name);
      expect(ops).toContain(c.op);
      expect(ops.includes('SHAPE')).toBe(c.name === 'conv');
      const file = c.file(written);
      // input codes in [-8, 8], given as exact multiples of SX
      const codes = smallInts(random, c.shape.reduce((a, b) => a * b, 1), 8);
      if (c.sparse) for (let i = 0; i < codes.length; i++) if (random() < 0.99) codes[i] = 0;
      const x = new Tensor('float32', c.shape, Float32Array.from(codes, (k) => k * SX));
      const theirs = (await oracle.run(file, [x.toFloat32()], 1, 1))[0]!.data as Float32Array;
      // the interpreter at the ties, against the exact value v = acc·M = k + 1/2 (M = SX·s_w/SY, exact)
      const acc = c.acc(codes);
      let [below, above] = [0, 0];
      for (let i = 0; i < acc.length; i++) {
        const v = (acc[i]! * SX * weightScale(c.channel(i))) / SY;
        if (v - Math.floor(v) !== 0.5 || Math.abs(v) > 127) continue;
        if (v < 0) below++;
        else above++;
        expect(theirs[i]! / SY, `${c.name}: output ${i}, exact value ${v}`).toBe(v + 0.5);
      }
      expect(below).toBeGreaterThan(0);
      expect(above).toBeGreaterThan(0);
      // nnport: XNNPACK mode (the conv model runs as 'builtin' by itself), on the WASM and the TypeScript kernels;
      // TFLite's reference double rounding, which takes negative ties away from zero, is off
      const back = await readTflite(file);
      const stepsOff = async (options: Parameters<typeof runInteger>[2]) => {
        const mine = [...(await runInteger(back, { [back.inputs[0]!.name]: x }, options)).outputs.values()][0]!.toFloat32();
        let off = 0;
        for (let i = 0; i < mine.length; i++) off = Math.max(off, Math.abs(mine[i]! - theirs[i]!) / SY);
        return off;
      };
      expect(await stepsOff({ requantization: 'xnnpack' }), `${c.name}, WASM kernels`).toBe(0);
      expect(await stepsOff({ requantization: 'xnnpack', kernels: 'typescript' }), `${c.name}, TypeScript kernels`).toBe(0);
      expect(await stepsOff({ requantization: 'reference' }), `${c.name}, double rounding`).toBe(1);
      console.log(`${c.name}: ${below} outputs on a tie below zero, ${above} at or above: the interpreter rounds them up, nnport's integer runtime equals it`);
    }
  });
});

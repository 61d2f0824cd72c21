// SPACE_TO_BATCH_ND -> CONV_2D / DEPTHWISE_CONV_2D -> BATCH_TO_SPACE_ND (the atrous form older TF
// converters write for a dilated conv) read as one dilated channels-last Conv: hand-built files
// with the paddings and crops tf.nn.atrous_conv2d computes (and an inner SAME conv), run by the
// real TFLite interpreter and by nnport (float runtime; int8 also the integer runtime) on the same
// input. Files where folding would not be exact keep the three ops and must still match.
// The 1-D form TF writes for a dilated Conv1D (EXPAND_DIMS / SQUEEZE around the conv) likewise:
// Unsqueeze -> one dilated Conv -> Squeeze, also under a dynamic batch (batches 3 and 1) and
// converted to ONNX (onnxruntime-node against the interpreter).
import { describe, expect, it } from 'vitest';
import { ActivationFunctionType } from '../../../src/formats/generated/tflite/activation-function-type.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { rng } from '../../support/rng.js';
import { flatcJson, opNameOf, opNamesOf, useTfliteOracle } from '../../support/tflite-test.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { hasChannelsLastOps, lowerChannelsLast } from '../../../src/passes/lower-channels-last.js';
import { withStoredDim } from '../../support/tflite-test.js';
import { runOrt } from '../onnx/ort-helpers.js';
import { type Atrous1dCase, atrous1dFile, type AtrousCase, atrousFile } from './dilated-model.js';

const oracle = useTfliteOracle();

function inputOf(c: AtrousCase): Tensor {
  const r = rng(c.seed + 1);
  const count = c.x.reduce((p, d) => p * d, 1);
  if (c.int8) return new Tensor('int8', [...c.x], Int8Array.from({ length: count }, () => Math.floor(r() * 256) - 128));
  return new Tensor('float32', [...c.x], Float32Array.from({ length: count }, () => r() * 4 - 2));
}

const folded = (g: Graph) => g.nodes.filter((n) => n.opType === 'Conv').length === 1 && !g.nodes.some((n) => ['Transpose', 'Reshape', 'Slice', 'Pad'].includes(n.opType));

/**
 * The worst difference between nnport's outputs and the interpreter's, per output (int8: in LSBs;
 * float: relative past 1). `oracleFile`: the file the interpreter runs (the same one stored at
 * another batch).
 */
async function compareRead(file: Uint8Array, name: string, x: Tensor, int8: boolean, oracleFile = file): Promise<{ g: Graph; float: number[]; integer?: number[]; xnnpack?: number[] }> {
  const g = await readTflite(file, { fileName: name });
  const theirs = await oracle.run(oracleFile, [x.data as ArrayBufferView]);
  const feeds = new Map([[g.inputs[0]!.name, x]]);
  const worst = (outputs: Map<string, Tensor>) =>
    g.outputs.map((v, i) => {
      const mine = outputs.get(v.name)!;
      expect(mine.shape).toEqual(theirs[i]!.shape);
      const a = mine.toNumbers();
      const b = Array.from(theirs[i]!.data as ArrayLike<number>);
      expect(a.length).toBe(b.length);
      return a.reduce((m, v, j) => Math.max(m, Math.abs(v - b[j]!) / (int8 ? 1 : Math.max(1, Math.abs(b[j]!)))), 0);
    });
  const float = worst((await runGraph(g, feeds)).outputs);
  const integer = int8 ? worst((await runInteger(g, feeds)).outputs) : undefined;
  // the interpreter in tfjs-tflite runs int8 convs through XNNPACK, whose requantization rounds once
  const xnnpack = int8 ? worst((await runInteger(g, feeds, { requantization: 'xnnpack' })).outputs) : undefined;
  return { g, float, integer, xnnpack };
}

const compare = (c: AtrousCase) => compareRead(atrousFile(c), 'atrous.tflite', inputOf(c), !!c.int8);

const convOf = (g: Graph) => g.nodes.find((n) => n.opType === 'Conv')!;

describe('TFLite reader: SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND folded into one dilated conv', () => {
  it('CONV_2D, rate 2, the paddings and crops of atrous_conv2d SAME on an odd height, fused RELU: one Conv with dilations 2 and pads', async () => {
    // k 3 at rate 2: SAME pads 2 + 2; height 9 + 4 = 13 rounds up to 14 (1 more pad, cropped off again)
    const c: AtrousCase = { x: [1, 9, 10, 3], out: 4, kernel: [3, 3], block: [2, 2], paddings: [2, 3, 2, 2], crops: [0, 1, 0, 0], act: ActivationFunctionType.RELU, seed: 11 };
    const { g, float } = await compare(c);
    expect(folded(g)).toBe(true);
    const conv = convOf(g);
    expect(conv.inputs[0]).toBe(g.inputs[0]!.name);
    expect(conv.attrs.dilations).toEqual({ type: 'ints', value: [2, 2] });
    expect(conv.attrs.pads).toEqual({ type: 'ints', value: [2, 2, 2, 2] });
    console.log(`atrous CONV_2D rate 2: nnport vs interpreter ${float[0]!.toExponential(2)}`);
    expect(float[0]).toBeLessThan(1e-5);
    // written back: one dilated CONV_2D (a PAD before it where the pads are not TF's SAME), the same outputs in the interpreter
    const back = await writeTflite(g, { fileName: 'atrous-back.tflite' });
    const json = flatcJson<{ operator_codes: { builtin_code: string }[]; subgraphs: { operators: { opcode_index: number; builtin_options?: Record<string, unknown> }[] }[] }>(back, 'atrous-back', { defaults: true });
    const ops = opNamesOf(json);
    expect(ops).not.toContain('SPACE_TO_BATCH_ND');
    expect(ops).not.toContain('BATCH_TO_SPACE_ND');
    const written = json.subgraphs[0]!.operators.find((o) => opNameOf(json, o) === 'CONV_2D')!;
    expect(written.builtin_options).toMatchObject({ dilation_h_factor: 2, dilation_w_factor: 2 });
    const x = inputOf(c);
    const [want] = await oracle.run(atrousFile(c), [x.data as ArrayBufferView]);
    const [got] = await oracle.run(back, [x.data as ArrayBufferView]);
    expect(got!.shape).toEqual(want!.shape);
    const a = got!.data as Float32Array;
    expect(Math.max(...Array.from(want!.data as Float32Array, (v, i) => Math.abs(v - a[i]!)))).toBeLessThan(1e-5);
  });

  it('DEPTHWISE_CONV_2D (depth multiplier 2), block [2, 3], a VALID atrous conv (no paddings)', async () => {
    const c: AtrousCase = { x: [2, 8, 9, 3], depthwise: true, out: 2, kernel: [3, 2], block: [2, 3], paddings: [0, 0, 0, 0], crops: [0, 0, 0, 0], seed: 12 };
    const { g, float } = await compare(c);
    expect(folded(g)).toBe(true);
    expect(convOf(g).attrs.dilations).toEqual({ type: 'ints', value: [2, 3] });
    expect(convOf(g).attrs.auto_pad).toEqual({ type: 'string', value: 'VALID' });
    expect(float[0]).toBeLessThan(1e-5);
  });

  it('an inner SAME conv: its pads scaled by the block join the paddings', async () => {
    const c: AtrousCase = { x: [1, 7, 8, 2], out: 3, kernel: [3, 3], block: [2, 2], paddings: [0, 1, 0, 0], crops: [0, 1, 0, 0], innerSame: true, act: ActivationFunctionType.RELU6, seed: 13 };
    const { g, float } = await compare(c);
    expect(folded(g)).toBe(true);
    expect(convOf(g).attrs.pads).toEqual({ type: 'ints', value: [2, 2, 2, 2] });
    expect(float[0]).toBeLessThan(1e-5);
  });

  it('int8 (per-channel weights, the reshuffles sharing the conv\'s quantization): one Conv between QDQ; the integer runtime within 1 LSB (exact with XNNPACK\'s requantization, which the interpreter runs)', async () => {
    const c: AtrousCase = { x: [1, 9, 10, 3], out: 4, kernel: [3, 3], block: [2, 2], paddings: [2, 3, 2, 2], crops: [0, 1, 0, 0], int8: true, act: ActivationFunctionType.RELU, seed: 14 };
    const { g, float, integer, xnnpack } = await compare(c);
    expect(g.nodes.filter((n) => n.opType === 'Conv')).toHaveLength(1);
    expect(g.nodes.some((n) => ['Transpose', 'Reshape', 'Slice', 'Pad'].includes(n.opType))).toBe(false);
    // the conv reads the graph input dequantized and its output is quantized to the graph output
    expect(g.nodes.find((n) => n.opType === 'DequantizeLinear' && n.inputs[0] === g.inputs[0]!.name)).toBeDefined();
    expect(g.nodes.find((n) => n.opType === 'QuantizeLinear' && n.outputs[0] === g.outputs[0]!.name)).toBeDefined();
    console.log(`atrous int8 CONV_2D: integer runtime ${integer![0]} LSB (XNNPACK requantization ${xnnpack![0]}), float runtime (QDQ) ${float[0]} LSB from the interpreter`);
    expect(integer![0]).toBeLessThanOrEqual(1);
    expect(xnnpack![0]).toBe(0);
    expect(float[0]).toBeLessThanOrEqual(1);
    // written back: an int8 dilated CONV_2D, the interpreter's int8 outputs unchanged
    const back = await writeTflite(g, { fileName: 'atrous-int8-back.tflite' });
    const json = flatcJson<{ operator_codes: { builtin_code: string }[]; subgraphs: { operators: { opcode_index: number; builtin_options?: Record<string, unknown> }[] }[] }>(back, 'atrous-int8-back', { defaults: true });
    const ops = opNamesOf(json);
    expect(ops).not.toContain('SPACE_TO_BATCH_ND');
    expect(ops).not.toContain('DEQUANTIZE');
    expect(json.subgraphs[0]!.operators.find((o) => opNameOf(json, o) === 'CONV_2D')!.builtin_options).toMatchObject({ dilation_h_factor: 2, dilation_w_factor: 2 });
    const x = inputOf(c);
    const [want] = await oracle.run(atrousFile(c), [x.data as ArrayBufferView]);
    const [got] = await oracle.run(back, [x.data as ArrayBufferView]);
    expect(Array.from(got!.data as Int8Array)).toEqual(Array.from(want!.data as Int8Array));
  });

  it('int8 DEPTHWISE_CONV_2D: folded, the integer runtime within 1 LSB', async () => {
    const c: AtrousCase = { x: [1, 8, 8, 4], depthwise: true, out: 1, kernel: [3, 3], block: [2, 2], paddings: [2, 2, 2, 2], crops: [0, 0, 0, 0], int8: true, seed: 15 };
    const { g, integer, xnnpack } = await compare(c);
    expect(g.nodes.filter((n) => n.opType === 'Conv')).toHaveLength(1);
    expect(g.nodes.some((n) => n.opType === 'Transpose')).toBe(false);
    expect(integer![0]).toBeLessThanOrEqual(1);
    expect(xnnpack![0]).toBe(0);
  });

  it('not folded where it would not be exact: a second reader of the middle tensor, crops deeper than the paddings, differing int8 parameters; the ops still match the interpreter', async () => {
    const shared: AtrousCase = { x: [1, 9, 10, 3], out: 4, kernel: [3, 3], block: [2, 2], paddings: [2, 3, 2, 2], crops: [0, 1, 0, 0], exposeMiddle: true, seed: 16 };
    const a = await compare(shared);
    expect(folded(a.g)).toBe(false);
    expect(a.g.nodes.some((n) => n.opType === 'Transpose')).toBe(true);
    expect(Math.max(...a.float)).toBeLessThan(1e-5);
    // crops 2 past paddings 0 at the top: the conv would need a negative pad
    const deep: AtrousCase = { x: [1, 8, 8, 2], out: 2, kernel: [2, 2], block: [2, 2], paddings: [0, 0, 0, 0], crops: [2, 0, 0, 0], seed: 17 };
    const b = await compare(deep);
    expect(folded(b.g)).toBe(false);
    expect(b.float[0]).toBeLessThan(1e-5);
    // int8 BATCH_TO_SPACE_ND whose output parameters differ from the conv's (the interpreter refuses such a file): read as three ops
    const other = await readTflite(atrousFile({ ...shared, exposeMiddle: false, int8: true, otherOutputQuant: true }), { fileName: 'requantized.tflite' });
    expect(folded(other)).toBe(false);
    expect(other.nodes.some((n) => n.opType === 'Transpose')).toBe(true);
  });
});

function input1d(c: Atrous1dCase, batch = c.x[0]): Tensor {
  const r = rng(c.seed + batch);
  const shape = [batch, c.x[1], c.x[2]];
  const count = shape.reduce((p, d) => p * d, 1);
  if (c.int8) return new Tensor('int8', shape, Int8Array.from({ length: count }, () => Math.floor(r() * 256) - 128));
  return new Tensor('float32', shape, Float32Array.from({ length: count }, () => r() * 4 - 2));
}

/** compareRead on a 1-D case at `batch`. */
function compare1d(c: Atrous1dCase, batch = c.x[0]): ReturnType<typeof compareRead> {
  const file = atrous1dFile(c);
  return compareRead(file, 'atrous1d.tflite', input1d(c, batch), !!c.int8, batch === c.x[0] ? file : withStoredDim(file, 0, batch));
}

/** One dilated Conv between an Unsqueeze and a Squeeze, none of the reshuffles. */
const folded1d = (g: Graph) =>
  g.nodes.filter((n) => n.opType === 'Conv').length === 1 && g.nodes.some((n) => n.opType === 'Unsqueeze') && g.nodes.some((n) => n.opType === 'Squeeze') && !g.nodes.some((n) => ['Transpose', 'Reshape', 'Slice', 'Pad'].includes(n.opType));

type OpsJson = { operator_codes: { builtin_code: string }[]; subgraphs: { operators: { opcode_index: number; builtin_options?: Record<string, unknown> }[] }[] };

describe('TFLite reader: a dilated Conv1D (SPACE_TO_BATCH_ND -> EXPAND_DIMS -> conv -> SQUEEZE -> BATCH_TO_SPACE_ND) folded into one dilated conv', () => {
  it("CONV_2D, rate 2, the paddings and crops of a Keras Conv1D padding=same on an odd length, a zero bias (TF adds the layer's after): Unsqueeze, one Conv with dilations [1, 2], Squeeze; written to ONNX and back to TFLite as one dilated conv", async () => {
    // k 3 at rate 2: SAME pads 2 + 2; 19 + 4 = 23 rounds up to 24 (1 more pad, cropped off again)
    const c: Atrous1dCase = { x: [1, 19, 3], out: 4, kernel: 3, block: 2, paddings: [2, 3], crops: [0, 1], zeroBias: true, seed: 41 };
    const { g, float } = await compare1d(c);
    expect(folded1d(g)).toBe(true);
    const conv = convOf(g);
    expect(conv.attrs.dilations).toEqual({ type: 'ints', value: [1, 2] });
    expect(conv.attrs.pads).toEqual({ type: 'ints', value: [0, 2, 0, 2] });
    expect(g.nodes.find((n) => n.opType === 'Unsqueeze')!.inputs[0]).toBe(g.inputs[0]!.name);
    expect(g.nodes.find((n) => n.opType === 'Squeeze')!.outputs[0]).toBe(g.outputs[0]!.name);
    console.log(`atrous Conv1D CONV_2D rate 2: nnport vs interpreter ${float[0]!.toExponential(2)}`);
    expect(float[0]).toBeLessThan(1e-5);
    const x = input1d(c);
    const [want] = await oracle.run(atrous1dFile(c), [x.data as ArrayBufferView]);
    const wantData = want!.data as Float32Array;
    // ONNX: one Conv with dilations, run by onnxruntime-node
    const onnxGraph = hasChannelsLastOps(g) ? lowerChannelsLast(g).graph : g;
    expect(onnxGraph.nodes.filter((n) => n.opType === 'Conv')).toHaveLength(1);
    expect(onnxGraph.nodes.find((n) => n.opType === 'Conv')!.attrs.dilations).toEqual({ type: 'ints', value: [1, 2] });
    // (the lowering merges the Squeeze with the layout Transpose into a Reshape)
    expect(onnxGraph.nodes.some((n) => ['Pad', 'Slice', 'SpaceToDepth', 'DepthToSpace'].includes(n.opType))).toBe(false);
    const ortOut = Object.values(await runOrt(writeOnnx(onnxGraph), { [g.inputs[0]!.name]: x }))[0]!;
    const ortData = new Float32Array((ortOut.bytes as Uint8Array).slice().buffer);
    const ortErr = Math.max(...Array.from(wantData, (v, i) => Math.abs(v - ortData[i]!)));
    console.log(`atrous Conv1D as ONNX: onnxruntime vs interpreter ${ortErr.toExponential(2)}`);
    expect(ortErr).toBeLessThan(1e-5);
    // TFLite: one dilated CONV_2D between the unit-dim reshapes
    const back = await writeTflite(g, { fileName: 'atrous1d-back.tflite' });
    const json = flatcJson<OpsJson>(back, 'atrous1d-back', { defaults: true });
    const ops = opNamesOf(json);
    expect(ops).not.toContain('SPACE_TO_BATCH_ND');
    expect(ops).not.toContain('BATCH_TO_SPACE_ND');
    expect(json.subgraphs[0]!.operators.find((o) => opNameOf(json, o) === 'CONV_2D')!.builtin_options).toMatchObject({ dilation_h_factor: 1, dilation_w_factor: 2 });
    const [got] = await oracle.run(back, [x.data as ArrayBufferView]);
    expect(got!.shape).toEqual(want!.shape);
    const a = got!.data as Float32Array;
    expect(Math.max(...Array.from(wantData, (v, i) => Math.abs(v - a[i]!)))).toBeLessThan(1e-5);
  });

  it('DEPTHWISE_CONV_2D (depth multiplier 2), batch 2, the unit dim at 2 (kernel [k, 1]), rate 2, a VALID conv padded at the end: dilations [2, 1], VALID', async () => {
    const c: Atrous1dCase = { x: [2, 15, 4], depthwise: true, out: 2, kernel: 3, block: 2, paddings: [0, 1], crops: [0, 1], unitAxis: 2, seed: 42 };
    const { g, float } = await compare1d(c);
    expect(folded1d(g)).toBe(true);
    expect(convOf(g).attrs.dilations).toEqual({ type: 'ints', value: [2, 1] });
    expect(convOf(g).attrs.auto_pad).toEqual({ type: 'string', value: 'VALID' });
    expect(float[0]).toBeLessThan(1e-5);
  });

  it('static shapes, as TF writes them: RESHAPEs in place of EXPAND_DIMS and SQUEEZE (float and int8); folded the same', async () => {
    for (const c of [
      { x: [1, 19, 3], out: 4, kernel: 3, block: 2, paddings: [2, 3], crops: [0, 1], reshapes: true, seed: 51 },
      { x: [2, 16, 4], depthwise: true, out: 1, kernel: 3, block: 2, paddings: [2, 2], crops: [0, 0], reshapes: true, unitAxis: 2, int8: true, seed: 52 },
    ] as Atrous1dCase[]) {
      const { g, float, integer } = await compare1d(c);
      expect(folded1d(g)).toBe(true);
      expect(convOf(g).attrs.dilations).toEqual({ type: 'ints', value: c.unitAxis === 2 ? [2, 1] : [1, 2] });
      if (c.int8) expect(integer![0]).toBeLessThanOrEqual(1);
      else expect(float[0]).toBeLessThan(1e-5);
    }
  });

  it('an inner SAME conv at rate 3 with fused RELU6: its pads scaled by the block join the paddings', async () => {
    const c: Atrous1dCase = { x: [1, 11, 2], out: 3, kernel: 3, block: 3, paddings: [0, 1], crops: [0, 1], innerSame: true, act: ActivationFunctionType.RELU6, unitAxis: 1, seed: 43 };
    const { g, float } = await compare1d(c);
    expect(folded1d(g)).toBe(true);
    expect(convOf(g).attrs.pads).toEqual({ type: 'ints', value: [0, 3, 0, 3] });
    expect(float[0]).toBeLessThan(1e-5);
  });

  it('a dynamic batch (-1 in every batch dim\'s shape_signature): folded, the batch stays dynamic, runs at batches 3 and 1 as the interpreter does (float and int8)', async () => {
    const f: Atrous1dCase = { x: [1, 19, 3], out: 4, kernel: 3, block: 2, paddings: [2, 3], crops: [0, 1], dynamicBatch: true, seed: 44 };
    const q: Atrous1dCase = { ...f, int8: true, act: ActivationFunctionType.RELU, seed: 45 };
    for (const c of [f, q]) {
      for (const batch of [3, 1]) {
        const { g, float, integer } = await compare1d(c, batch);
        expect(folded1d(g)).toBe(true);
        expect(g.inputs[0]!.shape).toEqual(['batch', 19, 3]);
        console.log(`atrous Conv1D ${c.int8 ? 'int8' : 'float'}, dynamic batch at ${batch}: float runtime ${float[0]}${integer ? `, integer runtime ${integer[0]} LSB` : ''} from the interpreter`);
        if (c.int8) {
          expect(integer![0]).toBeLessThanOrEqual(1);
          expect(float[0]).toBeLessThanOrEqual(1);
        } else {
          expect(float[0]).toBeLessThan(1e-5);
        }
      }
    }
  });

  it("int8 CONV_2D and DEPTHWISE_CONV_2D (per-channel weights, the reshapes sharing the conv's quantization): one Conv between QDQ, the integer runtime within 1 LSB; written back the interpreter's int8 outputs unchanged", async () => {
    const c: Atrous1dCase = { x: [1, 19, 3], out: 4, kernel: 3, block: 2, paddings: [2, 3], crops: [0, 1], int8: true, act: ActivationFunctionType.RELU, seed: 46 };
    const dw: Atrous1dCase = { x: [1, 16, 4], depthwise: true, out: 1, kernel: 3, block: 2, paddings: [2, 2], crops: [0, 0], int8: true, seed: 47 };
    for (const k of [c, dw]) {
      const { g, float, integer, xnnpack } = await compare1d(k);
      expect(folded1d(g)).toBe(true);
      // the unit-dim reshapes move the int8 data; the conv reads it dequantized and its output is quantized before the Squeeze
      expect(g.nodes.find((n) => n.opType === 'Unsqueeze')!.inputs[0]).toBe(g.inputs[0]!.name);
      console.log(`atrous Conv1D int8 ${k.depthwise ? 'DEPTHWISE_CONV_2D' : 'CONV_2D'}: integer runtime ${integer![0]} LSB (XNNPACK requantization ${xnnpack![0]}), float runtime (QDQ) ${float[0]} LSB from the interpreter`);
      expect(integer![0]).toBeLessThanOrEqual(1);
      expect(xnnpack![0]).toBe(0);
      expect(float[0]).toBeLessThanOrEqual(1);
    }
    const g = await readTflite(atrous1dFile(c), { fileName: 'atrous1d-int8.tflite' });
    const back = await writeTflite(g, { fileName: 'atrous1d-int8-back.tflite' });
    const json = flatcJson<OpsJson>(back, 'atrous1d-int8-back', { defaults: true });
    const ops = opNamesOf(json);
    expect(ops).not.toContain('SPACE_TO_BATCH_ND');
    expect(ops).not.toContain('DEQUANTIZE');
    const x = input1d(c);
    const [want] = await oracle.run(atrous1dFile(c), [x.data as ArrayBufferView]);
    const [got] = await oracle.run(back, [x.data as ArrayBufferView]);
    expect(Array.from(got!.data as Int8Array)).toEqual(Array.from(want!.data as Int8Array));
  });

  it('not folded where it would not be exact: a hybrid conv (int8 weights quantize each phase on the fly), a second reader of the EXPAND_DIMS output, crops deeper than the paddings; the ops still match the interpreter', async () => {
    const hybrid: Atrous1dCase = { x: [1, 19, 3], out: 4, kernel: 3, block: 2, paddings: [2, 3], crops: [0, 1], hybrid: true, seed: 48 };
    const h = await compare1d(hybrid);
    expect(folded1d(h.g)).toBe(false);
    expect(h.g.nodes.some((n) => n.opType === 'HybridInputQuantize')).toBe(true);
    console.log(`atrous Conv1D hybrid (op by op): nnport vs interpreter ${h.float[0]!.toExponential(2)}`);
    expect(h.float[0]).toBeLessThan(1e-5);
    const exposed = await compare1d({ ...hybrid, hybrid: false, exposeExpanded: true, seed: 49 });
    expect(folded1d(exposed.g)).toBe(false);
    expect(exposed.g.nodes.some((n) => n.opType === 'Transpose')).toBe(true);
    expect(Math.max(...exposed.float)).toBeLessThan(1e-5);
    // crops 2 past paddings 0 at the front: the conv would need a negative pad
    const deep = await compare1d({ x: [1, 8, 2], out: 2, kernel: 2, block: 2, paddings: [0, 0], crops: [2, 0], seed: 50 });
    expect(folded1d(deep.g)).toBe(false);
    expect(deep.float[0]).toBeLessThan(1e-5);
  });
});

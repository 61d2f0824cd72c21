// The TFLite reader on hand-built files with control flow (control-flow-model.ts, independent of
// nnport's writer): IF with ops in both branches, WHILE counting to a run-time bound carrying a
// tensor, a WHILE inside an IF, a WHILE whose carried tensor grows each iteration, and CALL_ONCE
// initialising a resource variable. Each file runs in the real interpreter and in nnport (float
// within 1e-6, integers exact), converted to .onnx (the CLI) in onnxruntime against the interpreter too,
// and written to .tflite again by nnport's writer, which the interpreter runs to the same outputs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main as cli } from '../../../src/cli/main.js';
import { convert, loadModel } from '../../../src/index.js';
import { BuiltinOperator } from '../../../src/formats/generated/tflite/builtin-operator.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { FormatError, UnsupportedError } from '../../../src/ir/errors.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { ortRun } from '../../support/ort.js';
import { rng } from '../../support/rng.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { buildControlFlowModel, callOnceFile, callOnceOptions, growingFile, ifFile, ifOptions, int8File, nestedFile, varHandleOptions, whileFile, whileOptions, type CfSubgraph, type CfTensor } from './control-flow-model.js';

const oracle = useTfliteOracle();
const tmp = mkdtempSync(join(tmpdir(), 'nnport-cf-read-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const Op = BuiltinOperator;

const bool = (v: boolean) => new Tensor('bool', [], Uint8Array.of(v ? 1 : 0));
const int32 = (v: number) => new Tensor('int32', [], Int32Array.of(v));
const draw = (shape: number[], seed: number) => {
  const r = rng(seed);
  const n = shape.reduce((a, d) => a * d, 1);
  return Tensor.float32(shape, Float32Array.from({ length: n }, () => r() * 4 - 2));
};

/** Outputs of nnport's runtime on the file read and of onnxruntime on its .onnx, each against the interpreter's. */
async function check(name: string, bytes: Uint8Array, inputs: Tensor[], expectOps: string[]): Promise<void> {
  const theirs = await oracle.run(bytes, inputs.map((t) => t.data as ArrayBufferView), 1, 1);
  const g = await readTflite(bytes, { fileName: `${name}.tflite` });
  const all = allOps(g);
  for (const op of expectOps) expect(all, `${name}: ${op}`).toContain(op);
  const feeds = Object.fromEntries(g.inputs.map((v, i) => [v.name, inputs[i]!]));
  const mine = [...(await runGraph(g, feeds)).outputs.values()];
  // nnport convert x.tflite -o x.onnx, run by onnxruntime
  writeFileSync(join(tmp, `${name}.tflite`), bytes);
  const errors: string[] = [];
  expect(await cli(['convert', join(tmp, `${name}.tflite`), '-o', join(tmp, `${name}.onnx`)], () => {}, (e) => errors.push(e)), errors.join('\n')).toBe(0);
  const ort = [...(await ortRun(readFileSync(join(tmp, `${name}.onnx`)), inputs)).values()];
  expect(mine.length).toBe(theirs.length);
  expect(ort.length).toBe(theirs.length);
  theirs.forEach((t, i) => {
    for (const [who, got] of [['nnport', mine[i]!], ['onnxruntime', ort[i]!]] as const) {
      expect(got.shape, `${name} output ${i} (${who})`).toEqual(t.shape);
      const want = Float32Array.from(t.data as ArrayLike<number>);
      const diff = maxAbsDiff(got.toFloat32(), want);
      if (t.dtype === 'float32') expect(diff, `${name} output ${i} (${who})`).toBeLessThanOrEqual(1e-6);
      else expect(diff, `${name} output ${i} (${who})`).toBe(0);
    }
  });
}

function allOps(g: Graph): string[] {
  return g.nodes.flatMap((n) => [n.opType, ...Object.values(n.attrs).flatMap((a) => (a.type === 'graph' ? allOps(a.value) : []))]);
}

describe('TFLite reader: IF / WHILE / CALL_ONCE against the interpreter', () => {
  it('IF with ops in both branches: each branch taken', { timeout: 60_000 }, async () => {
    for (const c of [true, false]) await check(`if-${c}`, ifFile(), [bool(c), draw([2, 3], 1)], ['If', 'Mul', 'Tanh']);
  });

  it('WHILE to a run-time bound carrying a tensor: 0, 1 and 5 iterations', { timeout: 60_000 }, async () => {
    for (const n of [0, 1, 5]) await check(`while-${n}`, whileFile(), [int32(n), draw([2, 3], 2)], ['Loop', 'Less']);
  });

  it('a WHILE inside an IF', { timeout: 60_000 }, async () => {
    for (const c of [true, false]) await check(`nested-${c}`, nestedFile(), [bool(c), int32(3), draw([2, 3], 3)], ['If', 'Loop', 'Neg']);
  });

  it('a WHILE whose carried tensor grows by a row each iteration', { timeout: 60_000 }, async () => {
    for (const n of [0, 4]) await check(`growing-${n}`, growingFile(), [int32(n), draw([1, 3], 4)], ['Loop', 'Concat']);
  });

  it('CALL_ONCE assigning a constant to a resource variable: READ_VARIABLE is the constant', { timeout: 60_000 }, async () => {
    await check('call-once', callOnceFile(), [draw([2, 3], 5)], ['Add']);
  });
});

describe('TFLite control flow read and written again by nnport\'s TFLite writer', () => {
  it('IF, WHILE, WHILE in IF, a growing WHILE and int8 IF / WHILE: the interpreter computes on the written file what it computes on the source', { timeout: 120_000 }, async () => {
    const cases: [string, Uint8Array, Tensor[]][] = [
      ['if', ifFile(), [bool(false), draw([2, 3], 7)]],
      ['while', whileFile(), [int32(3), draw([2, 3], 8)]],
      ['nested', nestedFile(), [bool(true), int32(2), draw([2, 3], 9)]],
      ['growing', growingFile(), [int32(3), draw([1, 3], 10)]],
      ['int8', int8File(), [bool(true), int32(2), new Tensor('int8', [2, 3], Int8Array.of(-128, -40, 0, 9, 77, 127))]],
    ];
    for (const [name, bytes, inputs] of cases) {
      const written = (await convert(await loadModel(bytes, { fileName: `${name}.tflite` }), `${name}-again.tflite`)).bytes;
      const data = inputs.map((t) => t.data as ArrayBufferView);
      const [source, again] = [await oracle.run(bytes, data, 1, 1), await oracle.run(written, data, 1, 1)];
      expect(again.length, name).toBe(source.length);
      source.forEach((t, i) => {
        expect(again[i]!.shape, `${name} output ${i}`).toEqual(t.shape);
        const diff = maxAbsDiff(Float32Array.from(again[i]!.data as ArrayLike<number>), Float32Array.from(t.data as ArrayLike<number>));
        expect(diff, `${name} output ${i}`).toBeLessThanOrEqual(t.dtype === 'float32' ? 1e-6 : 0);
      });
    }
  });
});

describe('TFLite reader: int8 bodies', () => {
  // the interpreter runs the bodies' int8 ADD / MUL through XNNPACK (its requantization: exact with
  // requantization 'xnnpack'); TFLite's reference kernels are within 1 step of it
  it('an int8 IF (ADD / MUL branches) and WHILE (ADD saturating): the integer runtime equals the interpreter exactly', { timeout: 60_000 }, async () => {
    const bytes = int8File();
    const g = await readTflite(bytes, { fileName: 'int8-control-flow.tflite' });
    const r = rng(6);
    for (const [c, n] of [[true, 2], [false, 1], [true, 0]] as const) {
      const x = new Tensor('int8', [2, 3], Int8Array.from({ length: 6 }, () => Math.floor(r() * 256) - 128));
      const inputs = [bool(c), int32(n), x];
      const feeds = Object.fromEntries(g.inputs.map((v, i) => [v.name, inputs[i]!]));
      const theirs = await oracle.run(bytes, inputs.map((t) => t.data as ArrayBufferView), 1, 1);
      const xnnpack = [...(await runInteger(g, feeds, { requantization: 'xnnpack' })).outputs.values()];
      const reference = [...(await runInteger(g, feeds)).outputs.values()];
      theirs.forEach((t, i) => {
        const want = Array.from(t.data as Int8Array);
        expect(xnnpack[i]!.dtype, `cond ${c}, n ${n}, output ${i}`).toBe('int8');
        expect(Array.from(xnnpack[i]!.data as Int8Array), `cond ${c}, n ${n}, output ${i}`).toEqual(want);
        expect(maxAbsDiff(reference[i]!.toFloat32(), Float32Array.from(want)), `cond ${c}, n ${n}, output ${i} (reference kernels)`).toBeLessThanOrEqual(1);
      });
    }
  });
});

describe('TFLite reader: control flow it refuses', () => {
  const x = { shape: [2, 3] };
  const main = (ops: CfSubgraph['ops'], tensors: CfSubgraph['tensors'] = [{ shape: [], dtype: 'bool' }, x, x]): CfSubgraph => ({ name: 'main', tensors, ops, inputs: [0, 1], outputs: [2] });
  const neg: CfSubgraph = { name: 'neg', tensors: [x, x], ops: [{ code: Op.NEG, inputs: [0], outputs: [1] }], inputs: [0], outputs: [1] };
  const refusal = async (bytes: Uint8Array) => {
    try {
      await readTflite(bytes, { fileName: 'cf.tflite' });
    } catch (e) {
      return e as Error;
    }
    throw new Error('read');
  };

  it('a subgraph index out of range, a subgraph calling itself, mismatched input / output counts: one-line FormatErrors naming the file', async () => {
    const outOfRange = await refusal(buildControlFlowModel([main([{ code: Op.IF, inputs: [0, 1], outputs: [2], options: ifOptions(1, 7) }]), neg]));
    expect(outOfRange).toBeInstanceOf(FormatError);
    expect(outOfRange.message).toMatch(/subgraph index 7 is out of range \(2 subgraphs\)/);
    // subgraph 1's IF takes subgraph 1 as its then branch
    const self: CfSubgraph = { name: 'self', tensors: [{ shape: [], dtype: 'bool' }, x, x], ops: [{ code: Op.IF, inputs: [0, 1], outputs: [2], options: ifOptions(1, 2) }], inputs: [0, 1], outputs: [2] };
    const recursion = await refusal(buildControlFlowModel([{ ...main([{ code: Op.IF, inputs: [0, 0, 1], outputs: [2], options: ifOptions(1, 2) }]) }, self, { ...neg, inputs: [0], tensors: [x, x] }]));
    expect(recursion).toBeInstanceOf(FormatError);
    expect(recursion.message).toMatch(/calls itself \(0 -> 1 -> 1\)/);
    // the IF passes x, the branch takes two values
    const two: CfSubgraph = { name: 'two', tensors: [x, x, x], ops: [{ code: Op.ADD, inputs: [0, 1], outputs: [2] }], inputs: [0, 1], outputs: [2] };
    const inputs = await refusal(buildControlFlowModel([main([{ code: Op.IF, inputs: [0, 1], outputs: [2], options: ifOptions(1, 2) }]), two, neg]));
    expect(inputs).toBeInstanceOf(FormatError);
    expect(inputs.message).toMatch(/then subgraph 1 takes 2 inputs, the op gives it 1/);
    // a WHILE carrying two values whose body gives back one
    const i32: CfTensor = { shape: [], dtype: 'int32' };
    const cond: CfSubgraph = { name: 'cond', tensors: [i32, x, { shape: [], dtype: 'bool' }, { ...i32, data: [3] }], ops: [{ code: Op.LESS, inputs: [0, 3], outputs: [2] }], inputs: [0, 1], outputs: [2] };
    const body: CfSubgraph = { name: 'body', tensors: [i32, x, x], ops: [{ code: Op.NEG, inputs: [1], outputs: [2] }], inputs: [0, 1], outputs: [2] };
    const outputs = await refusal(buildControlFlowModel([{ name: 'main', tensors: [i32, x, i32, x], ops: [{ code: Op.WHILE, inputs: [0, 1], outputs: [2, 3], options: whileOptions(1, 2) }], inputs: [0, 1], outputs: [3] }, cond, body]));
    expect(outputs).toBeInstanceOf(FormatError);
    expect(outputs.message).toMatch(/body subgraph 2 gives 1 outputs, the loop carries 2/);
    for (const e of [outOfRange, recursion, inputs, outputs]) {
      expect(e.message).toContain('cf.tflite');
      expect(e.message).not.toContain('\n');
    }
  });

  it('subgraphs each calling the next twice (2^11 reads): refused past 1024 reads, not read for ever', async () => {
    const b: CfSubgraph['tensors'][number] = { shape: [], dtype: 'bool' };
    const chain: CfSubgraph[] = Array.from({ length: 12 }, (_, k) => ({
      name: `level${k}`,
      tensors: [b, x, x, x],
      ops: [
        { code: Op.IF, inputs: [0, 0, 1], outputs: [2], options: ifOptions(k + 1, k + 1) },
        { code: Op.IF, inputs: [0, 0, 2], outputs: [3], options: ifOptions(k + 1, k + 1) },
      ],
      inputs: [0, 1],
      outputs: [3],
    }));
    chain.push({ name: 'leaf', tensors: [b, x, x], ops: [{ code: Op.NEG, inputs: [1], outputs: [2] }], inputs: [0, 1], outputs: [2] });
    const e = await refusal(buildControlFlowModel(chain));
    expect(e).toBeInstanceOf(UnsupportedError);
    expect(e.message).toMatch(/more than 1024 times/);
  });

  it('state between invokes (ASSIGN_VARIABLE outside CALL_ONCE) and an init subgraph that computes: UnsupportedError naming them', async () => {
    const res: CfTensor = { shape: [], dtype: 'resource' };
    const assigns = await refusal(
      buildControlFlowModel([
        {
          name: 'main',
          tensors: [x, res, x],
          ops: [
            { code: Op.VAR_HANDLE, inputs: [], outputs: [1], options: varHandleOptions('w') },
            { code: Op.ASSIGN_VARIABLE, inputs: [1, 0], outputs: [] },
            { code: Op.READ_VARIABLE, inputs: [1], outputs: [2] },
          ],
          inputs: [0],
          outputs: [2],
        },
      ]),
    );
    expect(assigns).toBeInstanceOf(UnsupportedError);
    expect(assigns.message).toMatch(/ASSIGN_VARIABLE outside a CALL_ONCE initialisation/);
    const computes = await refusal(
      buildControlFlowModel([
        { name: 'main', tensors: [x, x], ops: [{ code: Op.CALL_ONCE, inputs: [], outputs: [], options: callOnceOptions(1) }, { code: Op.NEG, inputs: [0], outputs: [1] }], inputs: [0], outputs: [1] },
        { name: 'init', tensors: [{ shape: [3], data: [1, 2, 3] }, { shape: [3] }], ops: [{ code: Op.NEG, inputs: [0], outputs: [1] }], inputs: [], outputs: [] },
      ]),
    );
    expect(computes).toBeInstanceOf(UnsupportedError);
    expect(computes.message).toMatch(/CALL_ONCE of a subgraph that runs NEG/);
    // CALL_ONCE of the subgraph it is in
    const self = await refusal(buildControlFlowModel([{ name: 'main', tensors: [x, x], ops: [{ code: Op.CALL_ONCE, inputs: [], outputs: [], options: callOnceOptions(0) }, { code: Op.NEG, inputs: [0], outputs: [1] }], inputs: [0], outputs: [1] }]));
    expect(self).toBeInstanceOf(FormatError);
    expect(self.message).toMatch(/init subgraph 0 calls itself \(0 -> 0\)/);
  });
});

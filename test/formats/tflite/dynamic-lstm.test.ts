// UNIDIRECTIONAL_SEQUENCE_LSTMs under a dynamic batch (-1 in the input's shape_signature, stored
// batch 1 or 2): the integer kernel (nnport.QuantizedLstm, its states one row repeated over the
// run-time batch) and float / hybrid LSTMs the reader unrolls (projection, layer norm), run at batches 3
// and 1 against the real interpreter on the same file with every dynamic dim stored at that batch
// (the state variables too: ResizeInputTensor alone leaves them at the stored batch, and the
// kernel's Prepare then refuses the model, as it does for the input resized alone).
import { describe, expect, it } from 'vitest';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { UnsupportedError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { runInteger } from '../../../src/runtime/integer/index.js';
import { maxAbsDiff } from '../../support/error-metrics.js';
import { rng } from '../../support/rng.js';
import { useTfliteOracle } from '../../support/tflite-test.js';
import { type FloatLstmCase, floatLstmFile, type LstmCase, lstmFile, withDynamicDimsStored } from './lstm-model.js';
import { randomInts } from './svdf-model.js';

const oracle = useTfliteOracle();

const xShape = (o: { batch: number; time: number; nInput: number; timeMajor?: boolean }, batch: number) => (o.timeMajor ? [o.time, batch, o.nInput] : [batch, o.time, o.nInput]);

describe('TFLite integer UNIDIRECTIONAL_SEQUENCE_LSTM under a dynamic batch', () => {
  const cases: [string, LstmCase][] = [
    ['plain, stored batch 1', { batch: 1, time: 4, nInput: 5, nCell: 6, nOutput: 6, dynamicBatch: true, seed: 21 }],
    ['peepholes and projection, time-major, state zero point 3, stored batch 2', { batch: 2, time: 4, nInput: 6, nCell: 8, nOutput: 4, peephole: true, projection: true, timeMajor: true, stateZeroPoint: 3, dynamicBatch: true, seed: 22 }],
    ['layer norm, CIFG, stored batch 1', { batch: 1, time: 5, nInput: 4, nCell: 6, nOutput: 6, layerNorm: true, cifg: true, dynamicBatch: true, seed: 23 }],
  ];
  for (const [name, o] of cases) {
    it(`${name}: the integer runtime at batches 3 and 1 within 1 LSB of the interpreter, the float runtime as on the file stored at that batch`, async () => {
      const file = lstmFile(o);
      const g = await readTflite(file, { fileName: 'lstm-dyn.tflite' });
      expect(g.inputs[0]!.shape).toEqual(o.timeMajor ? [o.time, null, o.nInput] : ['batch', o.time, o.nInput]);
      const lstm = g.nodes.find((n) => n.opType === 'QuantizedLstm')!;
      // the states one row each, whatever the stored batch
      expect(g.initializers.get(lstm.inputs[18]!)!.shape).toEqual([1, o.nOutput]);
      expect(g.initializers.get(lstm.inputs[19]!)!.shape).toEqual([1, o.nCell]);
      const r = rng(o.seed + 100);
      const seen = new Set<number>();
      for (const batch of [3, 1]) {
        const shape = xShape(o, batch);
        const x = randomInts(Int8Array, shape.reduce((p, d) => p * d, 1), -128, 127, r);
        const [theirs] = await oracle.run(withDynamicDimsStored(file, batch), [x]);
        const want = Array.from(theirs!.data as Int8Array);
        want.forEach((v) => seen.add(v));
        const mine = (await runInteger(g, { x: new Tensor('int8', shape, x) })).outputs.get('y')!;
        expect(mine.shape, `batch ${batch}`).toEqual(theirs!.shape);
        const lsb = maxAbsDiff(Array.from(mine.data as Int8Array), want);
        console.log(`dynamic-batch int8 LSTM (${name}) at batch ${batch}: integer runtime ${lsb} LSB from the interpreter`);
        expect(lsb, `batch ${batch}`).toBeLessThanOrEqual(1);
        // the float runtime (the dequantized LSTM): the same as on the file stored at that batch (its states [batch, n], nothing repeated)
        const approx = (await runGraph(g, { x: new Tensor('int8', shape, x) })).outputs.get('y')!;
        const stored = await readTflite(withDynamicDimsStored(file, batch), { fileName: 'lstm-stored.tflite' });
        const direct = (await runGraph(stored, { x: new Tensor('int8', shape, x) })).outputs.get('y')!;
        expect(approx.shape).toEqual(theirs!.shape);
        expect(Array.from(approx.data as Int8Array), `float runtime at batch ${batch}`).toEqual(Array.from(direct.data as Int8Array));
      }
      expect(seen.size).toBeGreaterThan(20);
    });
  }

  it('written back to TFLite: the batch stays dynamic, the interpreter computes what it computes on the source (batch 1), nnport runs the file read back at batch 3', async () => {
    const o = cases[1]![1];
    const file = lstmFile(o);
    const back = await writeTflite(await readTflite(file, { fileName: 'lstm-dyn.tflite' }), { fileName: 'lstm-dyn-back.tflite' });
    const r = rng(5);
    const x1 = randomInts(Int8Array, o.time * o.nInput, -128, 127, r);
    const [want1] = await oracle.run(withDynamicDimsStored(file, 1), [x1]);
    const [got1] = await oracle.run(back, [x1]);
    expect(Array.from(got1!.data as Int8Array)).toEqual(Array.from(want1!.data as Int8Array));
    const again = await readTflite(back, { fileName: 'lstm-dyn-back.tflite' });
    const shape = xShape(o, 3);
    const x3 = randomInts(Int8Array, shape.reduce((p, d) => p * d, 1), -128, 127, r);
    const [want3] = await oracle.run(withDynamicDimsStored(file, 3), [x3]);
    const mine = (await runInteger(again, { [again.inputs[0]!.name]: new Tensor('int8', shape, x3) })).outputs.values().next().value!;
    expect(maxAbsDiff(Array.from(mine.data as Int8Array), Array.from(want3!.data as Int8Array))).toBeLessThanOrEqual(1);
  });

  it('a stored initial state whose batch rows differ has no one-row form: an UnsupportedError naming it', async () => {
    const o: LstmCase = { batch: 2, time: 3, nInput: 4, nCell: 5, nOutput: 5, dynamicBatch: true, outputStateData: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], seed: 24 };
    const read = readTflite(lstmFile(o), { fileName: 'rows.tflite' });
    await expect(read).rejects.toThrow(UnsupportedError);
    await expect(readTflite(lstmFile(o), { fileName: 'rows.tflite' })).rejects.toThrow(/initial state that differs between batch rows under a dynamic batch/);
    // the same rows under a static batch are read as stored
    await expect(readTflite(lstmFile({ ...o, dynamicBatch: false }), { fileName: 'rows.tflite' })).resolves.toBeDefined();
  });
});

describe('TFLite float and hybrid UNIDIRECTIONAL_SEQUENCE_LSTM read unrolled, under a dynamic batch', () => {
  const cases: [string, FloatLstmCase][] = [
    ['projection (6 cells -> 4 outputs), stored batch 1', { batch: 1, time: 4, nInput: 5, nCell: 6, nOutput: 4, dynamicBatch: true, seed: 31 }],
    ['layer norm, time-major, stored batch 2', { batch: 2, time: 3, nInput: 4, nCell: 5, layerNorm: true, timeMajor: true, dynamicBatch: true, seed: 32 }],
    ['hybrid (int8 weights, asymmetric inputs) with a projection, stored batch 1', { batch: 1, time: 4, nInput: 5, nCell: 6, nOutput: 4, hybrid: true, dynamicBatch: true, seed: 33 }],
  ];
  for (const [name, o] of cases) {
    it(`${name}: unrolled, runs at batches 3 and 1 as the interpreter does`, async () => {
      const file = floatLstmFile(o);
      const g = await readTflite(file, { fileName: 'lstm-float-dyn.tflite' });
      expect(g.nodes.some((n) => n.opType === 'LSTM')).toBe(false);
      expect(g.nodes.some((n) => n.opType === 'MatMul')).toBe(true);
      // the hybrid kernel's per-row rounding of each matmul input
      expect(g.nodes.some((n) => n.opType === 'HybridInputQuantize')).toBe(!!o.hybrid);
      const r = rng(o.seed + 100);
      for (const batch of [3, 1]) {
        const shape = xShape(o, batch);
        const x = Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => r() * 4 - 2);
        const [theirs] = await oracle.run(withDynamicDimsStored(file, batch), [x]);
        const mine = (await runGraph(g, { x: Tensor.float32(shape, x) })).outputs.get('y')!;
        expect(mine.shape, `batch ${batch}`).toEqual(theirs!.shape);
        const err = maxAbsDiff(mine.toFloat32(), theirs!.data as Float32Array);
        console.log(`dynamic-batch unrolled float LSTM (${name}) at batch ${batch}: ${err.toExponential(2)} from the interpreter`);
        expect(err, `batch ${batch}`).toBeLessThan(1e-5);
      }
    });
  }
});

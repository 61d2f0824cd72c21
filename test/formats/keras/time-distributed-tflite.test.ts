// Keras TimeDistributed models (built by TensorFlow.js 4.9, read from their model.json) converted to
// .tflite and run by the real TFLite interpreter (tfjs-tflite in headless Chromium), against TF.js
// predicting with the source model.
import { describe, expect, it } from 'vitest';
import { readTfjsLayers } from '../../../src/formats/tfjs/index.js';
import { convert } from '../../../src/index.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';
import { predict, randomInput, relError, tfjsRoundTrip } from './tfjs-oracle.js';
import { seedWeights, TD_MODELS } from './time-distributed-models.js';

const tflite = useTfliteOracle();

describe('Keras TimeDistributed -> .tflite: the TFLite interpreter against TF.js', () => {
  it.each(TD_MODELS)('%s', async (name, make) => {
    const m = make();
    seedWeights(m, 700);
    const { json, shard } = await tfjsRoundTrip(m);
    const model = await readTfjsLayers(json, { fileName: 'model.json', readSibling: async () => shard });
    // batch 1 (the TFLite writer fixes a recurrent model's batch there); an unknown time axis pinned at 4, as --input-shape does
    const shape = model.graph.inputs[0]!.shape!.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : 4));
    const pinned = { ...model, graph: { ...model.graph, inputs: [{ ...model.graph.inputs[0]!, shape }] } };
    const file = (await convert(pinned, 'td.tflite')).bytes;
    const ops = tfliteOpNames(file, 'td.tflite');
    expect(ops).not.toContain('WHILE');
    const x = randomInput(shape, 13);
    const [out] = await tflite.run(file, [x.toFloat32()]);
    const got = Tensor.float32(out!.shape, Float32Array.from(out!.data as Float32Array));
    const want = predict(m, [x])[0]!;
    const err = relError(got, want);
    console.log(`${name}: TFLite interpreter vs TF.js ${err.toExponential(2)} (${[...new Set(ops)].join(' ')})`);
    expect(got.shape).toEqual(want.shape);
    expect(err).toBeLessThan(1e-5);
  });
});

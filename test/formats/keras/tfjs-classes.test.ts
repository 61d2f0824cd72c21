// The TF.js writer refuses by name what TF.js 4.9 cannot build (tfjs-classes.ts): a model.json naming
// a class TF.js lacks fails in tf.loadLayersModel. Checked against TF.js itself: every class on the
// list is one TF.js deserializes, a class it lacks is refused by the writer with TF.js' own failure
// shown for the same config (GlobalAveragePooling3D in the .h5; the model.json has AveragePooling3D
// over the whole volume instead, run by TF.js against onnxruntime).
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { refuseUnknownToTfjs } from '../../../src/formats/tfjs/tfjs-classes.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { permute } from '../../../src/wasm/permute.js';
import { ortFirst } from '../../support/ort.js';
import { predict, randomInput, relError, tf, tfjsModelFromH5, tfjsModelFromJson } from './tfjs-oracle.js';

function globalPool3d(): Graph {
  return {
    name: 'gap3d',
    nodes: [{ name: 'gap', domain: '', opType: 'GlobalAveragePool', inputs: ['x'], outputs: ['y'], attrs: {} }],
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 2, 3, 4, 5] }],
    outputs: [{ name: 'y', dtype: 'float32' }],
    initializers: new Map(),
    opsets: { '': 13 },
  };
}

describe('TF.js writer: classes TF.js 4.9 cannot build are refused by name', () => {
  it('a 3-D global pool: the .h5 has GlobalAveragePooling3D, which TF.js cannot build; the model.json an AveragePooling3D over the volume, which TF.js runs = onnxruntime', async () => {
    const onnx = writeOnnx(globalPool3d());
    const model = await loadModel(onnx, { fileName: 'gap3d.onnx' });
    const h5 = await convert(model, 'gap3d.h5');
    expect(h5.bytes.byteLength).toBeGreaterThan(0);
    // TF.js itself fails on the class in the .h5 (a Keras file keeps it)
    await expect(tfjsModelFromH5(h5.bytes)).rejects.toThrow(/Unknown layer: GlobalAveragePooling3D/);
    const js = await convert(model, 'gap3d/model.json');
    const classes = (JSON.parse(new TextDecoder().decode(js.bytes)).modelTopology.model_config.config.layers as { class_name: string }[]).map((l) => l.class_name);
    expect(classes).toEqual(['InputLayer', 'AveragePooling3D', 'Reshape', 'Reshape']);
    const x = randomInput([1, 2, 3, 4, 5], 5);
    const m = await tfjsModelFromJson(js.bytes, () => new Uint8Array());
    const y = predict(m, [permute(x, [0, 2, 3, 4, 1])])[0]!;
    m.dispose();
    const want = await ortFirst(onnx, [x]);
    expect(y.shape).toEqual([1, 1, 1, 1, 2]);
    expect(relError(y, want.reshape([1, 1, 1, 1, 2]))).toBeLessThan(1e-6);
  });

  it("the list agrees with TF.js' serialization map; activations TF.js lacks are refused", () => {
    const registered = tf.serialization.SerializationMap.getMap().classNameMap;
    for (const cls of ['Conv2D', 'AveragePooling3D', 'GlobalAveragePooling2D', 'Rescaling', 'TimeDistributed']) {
      expect(registered[cls], cls).toBeDefined();
      expect(() => refuseUnknownToTfjs({ class_name: cls, config: { name: 'l' } })).not.toThrow();
    }
    for (const cls of ['GlobalAveragePooling3D', 'UpSampling3D', 'ZeroPadding1D', 'Cropping3D', 'Conv1DTranspose', 'Normalization', 'MultiHeadAttention']) {
      expect(registered[cls], cls).toBeUndefined();
      expect(() => refuseUnknownToTfjs({ class_name: 'Functional', config: { name: 'm', layers: [{ class_name: cls, config: { name: 'l' } }] } })).toThrow(new RegExp(`Keras ${cls} in a TF.js layers model`));
    }
    expect(() => refuseUnknownToTfjs({ class_name: 'Dense', config: { name: 'd', activation: 'gelu' } })).toThrow(/the 'gelu' activation in a TF\.js layers model/);
    expect(() => refuseUnknownToTfjs({ class_name: 'Dense', config: { name: 'd', activation: 'swish' } })).not.toThrow();
  });
});

// The TF.js writer refuses by name what TF.js 4.9 cannot build (tfjs-classes.ts): a model.json naming
// a class TF.js lacks fails in tf.loadLayersModel. Checked against TF.js itself: every class on the
// list is one TF.js deserializes, a class it lacks (GlobalAveragePooling3D, from a 3-D net's global
// pool: torchvision's r3d_18) is refused by the writer with TF.js' own failure shown for the same config.
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { refuseUnknownToTfjs } from '../../../src/formats/tfjs/tfjs-classes.js';
import { convert, loadModel } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { tf, tfjsModelFromH5 } from './tfjs-oracle.js';

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
  it('a 3-D global pool: the .h5 has GlobalAveragePooling3D, which TF.js cannot build; the model.json is refused', async () => {
    const model = await loadModel(writeOnnx(globalPool3d()), { fileName: 'gap3d.onnx' });
    const h5 = await convert(model, 'gap3d.h5');
    expect(h5.bytes.byteLength).toBeGreaterThan(0);
    await expect(convert(model, 'gap3d/model.json')).rejects.toThrow(/Keras GlobalAveragePooling3D in a TF\.js layers model: TF\.js 4\.9 has no such class/);
    // TF.js itself fails on the class in the .h5 (a Keras file keeps it)
    await expect(tfjsModelFromH5(h5.bytes)).rejects.toThrow(/Unknown layer: GlobalAveragePooling3D/);
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

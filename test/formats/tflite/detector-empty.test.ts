// torchvision's SSDlite and RetinaNet as .tflite on a scene they detect nothing in, in the TFLite interpreter vs
// onnxruntime-node: detection_models.py's exports with the score threshold raised to 1.01
// (scripts/fixtures/detection_empty_models.py), so that no box passes the per-level score filter and
// everything after it (TopK, box decoding, the class-offset NMS, the final gathers) runs on 0 boxes.
// model.onnx has its empty-detections Ifs replaced by their else branch (those ops on 0 boxes);
// model-if.onnx keeps them (the TFLite writer's IF takes their empty branch at run time).
// The outputs are empty and shaped as onnxruntime's ([0, 4], [0], [0]; labels int32: the interpreter returns no int64).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { convert, loadModelFiles } from '../../../src/index.js';
import { detectionDir } from '../../support/detections.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { ortRun } from '../../support/ort.js';
import type { OracleTensor } from '../../support/tflite-oracle.js';
import { useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();

const NETS = ['ssdlite', 'retinanet'];
const emptyDir = (net: string): string => {
  detectionDir(net); // (the exports this script edits)
  return join(ensureScriptFixtures('detection_empty_models.py', 'detection-empty-models', NETS), net);
};

const outputOf = (outs: OracleTensor[], name: string): OracleTensor => {
  const o = outs.find((t) => t.name === name || t.name.startsWith(`${name}__`));
  if (!o) throw new Error(`no output '${name}' among ${outs.map((t) => t.name).join(', ')}`);
  return o;
};

describe('SSDlite / RetinaNet .tflite on an empty scene (score threshold 1.01) vs onnxruntime-node', () => {
  const CASES: Array<[string, string]> = [
    ['ssdlite', 'model.onnx'],
    ['ssdlite', 'model-if.onnx'],
    ['retinanet', 'model.onnx'],
  ];
  for (const [net, file] of CASES) {
    it(`${net} ${file}: no detections, shaped as onnxruntime's`, { timeout: 900_000 }, async () => {
      const path = join(emptyDir(net), file);
      const image = readNpy(new Uint8Array(readFileSync(join(emptyDir(net), 'image.npy'))));
      const want = await ortRun(new Uint8Array(readFileSync(path)), [image]);
      expect(want.get('scores')!.shape, 'onnxruntime detections').toEqual([0]);
      const { bytes } = await convert(await loadModelFiles([path]), `${net}.tflite`, { int32Io: true });
      const outs = await oracle.run(bytes, [image.toFloat32()], 1, 1);
      for (const o of ['boxes', 'scores', 'labels']) {
        const w = want.get(o)!;
        const got = outputOf(outs, o);
        expect(got.shape, o).toEqual(w.shape);
        expect(got.dtype, o).toBe(w.dtype === 'int64' ? 'int32' : w.dtype);
      }
      console.log(`${net} ${file} .tflite, empty scene: ${['boxes', 'scores', 'labels'].map((o) => `${o} [${outputOf(outs, o).shape}] ${outputOf(outs, o).dtype}`).join(', ')}`);
    });
  }
});

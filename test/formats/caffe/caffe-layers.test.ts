// Caffe's layer semantics one by one, on small nets written here, against OpenCV dnn with random
// weights (scripts/fixtures/caffe_opencv.py): pooling's ceil rounding on odd sizes and its
// average divisor at padded borders, per-pixel softmax, BatchNorm's moving-average factor
// (written as 0.5, not 1) and the other layer types nnport maps.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readCaffePrototxt } from '../../../src/formats/caffe/index.js';
import { writeOnnx } from '../../../src/formats/onnx/write.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { REPO_ROOT } from '../../support/corpus.js';
import { opencvRandom, pathFiles, relativeError } from './opencv.js';

const input = (shape: number[]) => `input: "data"\ninput_shape { ${shape.map((d) => `dim: ${d}`).join(' ')} }\n`;
const layer = (name: string, type: string, bottoms: string[], body = '', tops = [name]) =>
  `layer { name: "${name}" type: "${type}" ${bottoms.map((b) => `bottom: "${b}"`).join(' ')} ${tops.map((t) => `top: "${t}"`).join(' ')} ${body} }\n`;

const NETS: Record<string, [number[], string]> = {
  'pooling-ceil-odd': [
    [1, 2, 7, 9],
    layer('max_k3s2', 'Pooling', ['data'], 'pooling_param { pool: MAX kernel_size: 3 stride: 2 }') +
      layer('max_k2s2', 'Pooling', ['data'], 'pooling_param { pool: MAX kernel_size: 2 stride: 2 }') +
      layer('max_pad', 'Pooling', ['data'], 'pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }') +
      layer('max_hw', 'Pooling', ['data'], 'pooling_param { pool: MAX kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 2 pad_h: 1 pad_w: 0 }') +
      // width 9, k1 s4: ceil gives 3 windows, the last starting at 8; with pad_h set Caffe's
      // clipping check also runs on the unpadded width (8 < 9: kept)
      layer('max_clip_w', 'Pooling', ['data'], 'pooling_param { pool: MAX kernel_h: 3 kernel_w: 1 stride_h: 2 stride_w: 4 pad_h: 1 pad_w: 0 }'),
  ],
  'pooling-ave-borders': [
    [1, 3, 6, 8],
    // 6 rows, k3 s2 pad 1: the last window covers rows 5, 6 (padding) and 7 (beyond the padded border)
    layer('ave_k3s2p1', 'Pooling', ['data'], 'pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }') +
      layer('ave_k5s3p2', 'Pooling', ['data'], 'pooling_param { pool: AVE kernel_size: 5 stride: 3 pad: 2 }') +
      layer('ave_k3s2', 'Pooling', ['data'], 'pooling_param { pool: AVE kernel_size: 3 stride: 2 }') +
      layer('ave_global', 'Pooling', ['data'], 'pooling_param { pool: AVE global_pooling: true }') +
      layer('max_global', 'Pooling', ['data'], 'pooling_param { pool: MAX global_pooling: true }'),
  ],
  'softmax-per-pixel': [[2, 5, 3, 4], layer('prob', 'Softmax', ['data']) + layer('prob_h', 'Softmax', ['data'], 'softmax_param { axis: 2 }')],
  'batchnorm-factor': [
    [1, 3, 5, 5],
    layer('conv', 'Convolution', ['data'], 'convolution_param { num_output: 4 kernel_size: 3 pad: 1 bias_term: false }') +
      layer('bn', 'BatchNorm', ['conv'], 'batch_norm_param { use_global_stats: true eps: 0.001 }', ['conv']) +
      layer('scale', 'Scale', ['conv'], 'scale_param { bias_term: true }', ['conv']) +
      layer('relu', 'ReLU', ['conv'], '', ['conv']) +
      layer('fc', 'InnerProduct', ['conv'], 'inner_product_param { num_output: 6 }') +
      layer('fc_bn', 'BatchNorm', ['fc'], '', ['fc']),
  ],
  'conv-variants': [
    [1, 4, 9, 8],
    layer('dil', 'Convolution', ['data'], 'convolution_param { num_output: 6 kernel_size: 3 dilation: 2 pad: 2 group: 2 }') +
      layer('hw', 'Convolution', ['data'], 'convolution_param { num_output: 3 kernel_h: 3 kernel_w: 1 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0 }') +
      layer('deconv', 'Deconvolution', ['dil'], 'convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 group: 2 }') +
      layer('crop', 'Crop', ['deconv', 'data'], 'crop_param { axis: 2 offset: 3 offset: 2 }') +
      layer('up_bias', 'Deconvolution', ['hw'], 'convolution_param { num_output: 2 kernel_size: 3 stride: 3 }'),
  ],
  activations: [
    [1, 3, 4, 5],
    layer('leaky', 'ReLU', ['data'], 'relu_param { negative_slope: 0.1 }') +
      layer('prelu_shared', 'PReLU', ['data'], 'prelu_param { channel_shared: true }') +
      layer('prelu', 'PReLU', ['data']) +
      layer('sig', 'Sigmoid', ['data']) +
      layer('tanh', 'TanH', ['data']) +
      layer('elu', 'ELU', ['data'], 'elu_param { alpha: 0.7 }') +
      layer('bnll', 'BNLL', ['data']) +
      layer('abs', 'AbsVal', ['data']) +
      layer('pow', 'Power', ['abs'], 'power_param { power: 1.5 scale: 2 shift: 0.5 }') +
      layer('exp', 'Exp', ['data'], 'exp_param { base: 2 scale: 0.5 shift: 0.25 }') +
      // OpenCV's Log ignores base/scale/shift (Caffe's are checked against onnxruntime below)
      layer('log', 'Log', ['pow']),
  ],
  'lrn-mvn': [
    [2, 7, 5, 6],
    layer('lrn_across', 'LRN', ['data'], 'lrn_param { local_size: 5 alpha: 0.3 beta: 0.75 }') +
      layer('lrn_within', 'LRN', ['data'], 'lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 norm_region: WITHIN_CHANNEL }') +
      // OpenCV adds eps under the square root, Caffe to the standard deviation: default eps only
      layer('mvn', 'MVN', ['data']) +
      layer('mvn_across', 'MVN', ['data'], 'mvn_param { across_channels: true }') +
      layer('mvn_mean', 'MVN', ['data'], 'mvn_param { normalize_variance: false }'),
  ],
  'blob-plumbing': [
    [2, 6, 4, 3],
    layer('slice', 'Slice', ['data'], 'slice_param { axis: 1 slice_point: 1 slice_point: 4 }', ['s1', 's2', 's3']) +
      layer('concat', 'Concat', ['s3', 's1', 's2']) +
      layer('sum', 'Eltwise', ['data', 'concat'], 'eltwise_param { operation: SUM coeff: 0.5 coeff: -2 }') +
      layer('prod', 'Eltwise', ['data', 'concat'], 'eltwise_param { operation: PROD }') +
      layer('max', 'Eltwise', ['sum', 'prod'], 'eltwise_param { operation: MAX }') +
      layer('flat', 'Flatten', ['max']) +
      layer('reshape', 'Reshape', ['data'], 'reshape_param { shape { dim: 0 dim: -1 dim: 3 } }') +
      layer('ip_axis2', 'InnerProduct', ['reshape'], 'inner_product_param { num_output: 5 axis: 2 }') +
      layer('drop', 'Dropout', ['flat'], 'dropout_param { dropout_ratio: 0.3 }') +
      layer('gap', 'Pooling', ['data'], 'pooling_param { pool: AVE global_pooling: true }') +
      layer('gap_flat', 'Flatten', ['gap']) +
      layer('scale2', 'Scale', ['data', 'gap_flat'], 'scale_param { axis: 0 }') +
      layer('split', 'Split', ['drop'], '', ['a', 'b']) +
      layer('ip_a', 'InnerProduct', ['a'], 'inner_product_param { num_output: 3 }') +
      layer('ip_b', 'InnerProduct', ['b'], 'inner_product_param { num_output: 2 bias_term: false }'),
  ],
  'axes-and-shapes': [
    [2, 4, 3, 5],
    layer('perm', 'Permute', ['data'], 'permute_param { order: 0 order: 2 order: 3 order: 1 }') +
      layer('flat2', 'Flatten', ['data'], 'flatten_param { axis: 2 }') +
      layer('cat2', 'Concat', ['data', 'data'], 'concat_param { axis: 2 }') +
      layer('halves', 'Slice', ['data'], '', ['h1', 'h2']) +
      layer('sum_h', 'Eltwise', ['h1', 'h2']) +
      layer('resh', 'Reshape', ['data'], 'reshape_param { shape { dim: 3 dim: 5 } axis: 2 num_axes: 2 }') +
      layer('scale_hw', 'Scale', ['data'], 'scale_param { axis: 2 num_axes: 2 }'),
  ],
};

describe('Caffe layers vs OpenCV dnn', () => {
  for (const [key, [shape, body]] of Object.entries(NETS)) {
    it(key, async () => {
      const text = `name: "${key}"\n${input(shape)}${body}`;
      const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
      const dir = join(REPO_ROOT, '.fixtures-cache/caffe/layers', `${key}-${hash}`);
      mkdirSync(dir, { recursive: true });
      const p = join(dir, `${key}.prototxt`);
      writeFileSync(p, text);
      const bytes = new Uint8Array(readFileSync(p));
      const bare = await readCaffePrototxt(bytes, { fileName: p });
      const ref = opencvRandom(`layers/${key}-${hash}`, p, bare.graph, shape);
      const graph = ref.weights ? (await readCaffePrototxt(bytes, { fileName: p, files: pathFiles(p, ref.weights) })).graph : bare.graph;
      const got = (await runGraph(graph, { data: ref.input })).outputs;
      expect([...got.keys()].sort()).toEqual([...ref.outputs.keys()].sort());
      for (const [name, want] of ref.outputs) {
        const t = got.get(name)!;
        expect(t.shape, name).toEqual(want.shape);
        expect(relativeError(t, want), name).toBeLessThanOrEqual(1e-4);
      }
      // The same graph written as ONNX: onnxruntime must agree (the ops' ONNX semantics hold).
      const session = await ort.InferenceSession.create(writeOnnx(graph), { logSeverityLevel: 3 });
      const res = await session.run({ data: new ort.Tensor('float32', ref.input.data as Float32Array, [...ref.input.shape]) });
      await session.release();
      for (const [name, want] of ref.outputs) {
        expect(res[name]!.dims, `onnx ${name}`).toEqual(want.shape);
        expect(relativeError({ data: res[name]!.data } as never, want), `onnxruntime ${name}`).toBeLessThanOrEqual(1e-4);
      }
    }, 30_000);
  }
});

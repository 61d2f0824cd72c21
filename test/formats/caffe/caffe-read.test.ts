// The prototxt parser, the caffemodel decoder and the importer's errors: every bad input gives
// one FormatError/UnsupportedError naming the file and the line/column or the layer.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeCaffeBinary, parsePrototxt, readCaffemodel, readCaffePrototxt } from '../../../src/formats/caffe/index.js';
import type { Message } from '../../../src/formats/caffe/schema.js';
import type { ModelFileSet } from '../../../src/formats/model.js';
import { readModel } from '../../../src/formats/registry.js';
import { registerAllFormats } from '../../../src/formats/all.js';
import { FormatError, UnsupportedError, UsageError } from '../../../src/ir/errors.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { corpusPath } from '../../support/corpus.js';
import { rng } from '../../support/rng.js';
import { ortRun } from '../../support/ort.js';

registerAllFormats();
const enc = new TextEncoder();

// ---- a tiny protobuf writer for hand-made caffemodels ----
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const field = (num: number, bytes: ArrayLike<number>) => [...varint((num << 3) | 2), ...varint(bytes.length), ...Array.from(bytes)];
function blob(shape: number[], values: number[]): number[] {
  return [...field(7, field(1, shape.flatMap(varint))), ...field(5, new Uint8Array(Float32Array.from(values).buffer))];
}
function caffemodel(layers: [string, string, number[][]][]): Uint8Array {
  const body = [...field(1, enc.encode('net'))];
  for (const [name, type, blobs] of layers) body.push(...field(100, [...field(1, enc.encode(name)), ...field(2, enc.encode(type)), ...blobs.flatMap((b) => field(7, b))]));
  return new Uint8Array(body);
}
function files(map: Record<string, Uint8Array>): ModelFileSet {
  return { given: Object.keys(map), read: async (n) => map[n]!, list: async () => Object.keys(map) };
}

const CONV_NET = `name: "t"
input: "data" input_dim: 1 input_dim: 2 input_dim: 4 input_dim: 4
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 3 kernel_size: 3 }
}
`;

async function rejects(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('prototxt parser', () => {
  it('reads both field forms, lists, enums by name and number, escapes, comments', () => {
    const m = parsePrototxt(
      `# a comment
name: 'n\\x41\\101\\n\\"q\\"' "tail"   # trailing comment
layer: { name: "a"; type: "Pooling" pooling_param < pool: AVE kernel_size: 3 > }
layer { name: "b", type: "Eltwise" eltwise_param { operation: 0 coeff: [1.5, -2e-1, .5f] } }
input_dim: [1, 0x2, 010]
`,
      'x.prototxt',
    );
    expect(m.name).toBe('nAA\n"q"tail');
    const layers = m.layer as Message[];
    expect(layers.map((l) => l.name)).toEqual(['a', 'b']);
    expect((layers[0]!.pooling_param as Message).pool).toBe(1);
    expect((layers[1]!.eltwise_param as Message).operation).toBe(0);
    expect((layers[1]!.eltwise_param as Message).coeff).toEqual([1.5, Math.fround(-0.2), 0.5]);
    expect(m.input_dim).toEqual([1, 2, 8]);
  });

  const bad: [string, string, RegExp][] = [
    ['unbalanced braces', 'layer { name: "a"\nlayer { name: "b" }\n', /x\.prototxt: line 1, column 7: '\{' is never closed: the file ends inside this LayerParameter/],
    ['a stray close', 'name: "a"\n}\n', /line 2, column 1: unbalanced '\}'/],
    ['a wrong value type', 'layer {\n  convolution_param { num_output: "ten" }\n}', /line 2, column 35: 'num_output' takes an integer, found '"ten"'/],
    ['a bad enum', 'layer { pooling_param { pool: MEDIAN } }', /line 1, column 31: 'MEDIAN' is not a value of PoolMethod/],
    ['a missing colon', 'name "a"', /line 1, column 6: expected ':' after 'name'/],
    ['an unterminated string', 'name: "abc\n', /line 1, column 7: unterminated string/],
    ['a singular field twice', 'name: "a" name: "b"', /line 1, column 11: 'name' is given more than once/],
    ['a negative unsigned', 'layer { convolution_param { num_output: -3 } }', /'num_output' takes an unsigned integer/],
  ];
  for (const [what, text, re] of bad) {
    it(`rejects ${what} with line and column`, () => {
      let err: unknown;
      try {
        parsePrototxt(text, 'x.prototxt');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FormatError);
      expect(String((err as Error).message)).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    });
  }

  it('reports an unknown field of a layer with its line and column', async () => {
    const text = CONV_NET.replace('kernel_size: 3', 'kernel_size: 3\n    kernel_sizes: 5');
    const e = await rejects(readCaffePrototxt(enc.encode(text), { fileName: 'u.prototxt' }));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toBe("u.prototxt: line 5, column 5: unknown field 'kernel_sizes' in layer 'conv' (Convolution).convolution_param");
  });

  it('lists every layer type it cannot run in one error', async () => {
    // VGG-SSD's Normalize and Faster R-CNN's ROIPooling (MobileNet-SSD's PriorBox and DetectionOutput now read)
    const text = [
      'input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }',
      'layer { name: "n1" type: "Normalize" bottom: "data" top: "n1" }',
      'layer { name: "n2" type: "Normalize" bottom: "n1" top: "n2" }',
      'layer { name: "roi" type: "ROIPooling" bottom: "n2" bottom: "data" top: "roi" }',
    ].join('\n');
    const e = await rejects(readModel(new TextEncoder().encode(text), { fileName: 'ssd.prototxt' }));
    expect(e).toBeInstanceOf(UnsupportedError);
    expect(e.message).toMatch(/Caffe layer types Normalize, ROIPooling: 'ssd\.prototxt' uses Normalize \(2: n1, n2\); ROIPooling \(1: roi\)/);
  });

  it('reduces a train/test net to its TEST phase and asks for the data shape', async () => {
    const p = corpusPath('caffe/mnist-autoencoder-train-prototxt/mnist_autoencoder.prototxt');
    const bytes = new Uint8Array(readFileSync(p));
    const e = await rejects(readCaffePrototxt(bytes, { fileName: p }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(/input 'data' \(top of Data layer 'data'\) has no shape: give it with --input-shape data=N,C,H,W/);
    const m = await readCaffePrototxt(bytes, { fileName: p, inputShapes: { data: [2, 1, 28, 28] } });
    const ops = m.graph.nodes.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Gemm')).toHaveLength(8);
    expect(ops).not.toContain('SigmoidCrossEntropyLoss');
    expect(m.graph.outputs.map((o) => `${o.name}[${o.shape}]`)).toContain('decode1neuron[2,784]');
  });
});

describe('caffemodel reader', () => {
  it('reads V1 legacy blobs (InnerProduct weights stored 1x1xNxK) and lists blobs alone', async () => {
    const p = corpusPath('caffe/cifar10-quick-v1format/cifar10_quick_iter_5000.caffemodel');
    const m = await readCaffemodel(new Uint8Array(readFileSync(p)), { fileName: p });
    expect(m.kind).toBe('weights');
    if (m.kind !== 'weights') return;
    expect(m.metadata?.version).toBe('V1 (legacy layers)');
    expect(m.tensors.get('ip1/weight')?.shape).toEqual([1, 1, 64, 1024]);
    expect(m.tensors.get('conv1/weight')?.shape).toEqual([32, 3, 5, 5]);
    expect(m.tensors.get('ip2/bias')?.shape).toEqual([1, 1, 1, 10]);
  });

  it('rejects a truncated caffemodel naming the file and offset', async () => {
    const p = corpusPath('caffe/lenet-mnist/lenet_iter_10000.caffemodel');
    const bytes = new Uint8Array(readFileSync(p)).subarray(0, 100_000);
    const e = await rejects(readCaffemodel(bytes, { fileName: 'lenet.caffemodel' }));
    expect(e).toBeInstanceOf(FormatError);
    expect(e.message).toMatch(/^lenet\.caffemodel at offset \d+: length \d+ runs past the end/);
  });

  it('rejects a blob whose values disagree with its shape', () => {
    const bytes = caffemodel([['conv', 'Convolution', [blob([3, 2, 3, 3], [1, 2, 3, 4, 5])]]]);
    return expect(readCaffemodel(bytes, { fileName: 'w.caffemodel' })).rejects.toThrow(
      "w.caffemodel: layer 'conv' blob 0: holds 5 values but its shape [3, 2, 3, 3] needs 54",
    );
  });

  it('rejects a blob that does not fit the deploy layer, and a layer with no weights', async () => {
    const wrong = caffemodel([['conv', 'Convolution', [blob([3, 2, 2, 2], new Array(24).fill(1)), blob([3], [0, 0, 0])]]]);
    const e = await rejects(readCaffePrototxt(enc.encode(CONV_NET), { fileName: 'd.prototxt', files: files({ 'd.prototxt': new Uint8Array(), 'w.caffemodel': wrong }) }));
    expect(e.message).toBe("w.caffemodel: layer 'conv' (Convolution) blob 0 (weight) has shape [3, 2, 2, 2] (24 values); the layer needs [3, 2, 3, 3] (54)");
    const other = caffemodel([['conv_renamed', 'Convolution', []]]);
    const e2 = await rejects(readCaffePrototxt(enc.encode(CONV_NET), { fileName: 'd.prototxt', files: files({ 'd.prototxt': new Uint8Array(), 'w.caffemodel': other }) }));
    expect(e2.message).toBe("d.prototxt: layer 'conv' (Convolution) needs weights and 'w.caffemodel' has no layer of that name");
  });

  it('decodes packed and unpacked fields and negative int64 dims', () => {
    const m = decodeCaffeBinary(new Uint8Array([...field(1, enc.encode('n')), 0x20, 0x05, 0x20, ...varint(2 ** 32 + 3)]), 'x');
    expect(m.name).toBe('n');
    expect(m.input_dim).toEqual([5, 2 ** 32 + 3]);
    const neg = decodeCaffeBinary(new Uint8Array([0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 'x');
    expect(neg.input_dim).toEqual([-1]);
  });
});

describe('Caffe semantics OpenCV does not share', () => {
  it('LRN ACROSS_CHANNELS with k != 1 matches onnxruntime LRN (bias = k)', async () => {
    const text = `input: "data" input_shape { dim: 2 dim: 7 dim: 3 dim: 4 }
layer { name: "lrn" type: "LRN" bottom: "data" top: "lrn" lrn_param { local_size: 5 alpha: 0.3 beta: 0.6 k: 2.5 } }`;
    const g = (await readCaffePrototxt(enc.encode(text), { fileName: 'l.prototxt' })).graph;
    const r = rng(7);
    const x = Tensor.float32([2, 7, 3, 4], Array.from({ length: 168 }, () => r() * 4 - 2));
    const got = (await runGraph(g, { data: x })).outputs.get('lrn')!.data as Float32Array;
    const { singleNodeModel } = await import('../../unit/kernels/onnx-single-node.js');
    const bytes = singleNodeModel({ opType: 'LRN', inputs: [{ name: 'x', shape: [2, 7, 3, 4] }], nodeInputs: ['x'], outputs: ['y'], attrs: { size: 5, alpha: { float: 0.3 }, beta: { float: 0.6 }, bias: { float: 2.5 } } });
    const want = (await ortRun(bytes, { x: x.reshape([2, 7, 3, 4]) })).get('y')!.toFloat32();
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
  });

  it('Log with base/scale/shift and Exp follow Caffe\'s formulas', async () => {
    const text = `input: "data" input_shape { dim: 1 dim: 6 }
layer { name: "log" type: "Log" bottom: "data" top: "log" log_param { base: 10 scale: 1.5 shift: 2 } }
layer { name: "exp" type: "Exp" bottom: "data" top: "exp" exp_param { base: 3 scale: 0.5 shift: -1 } }`;
    const g = (await readCaffePrototxt(enc.encode(text), { fileName: 'l.prototxt' })).graph;
    const xs = [-1, -0.5, 0, 0.5, 1, 3];
    const out = (await runGraph(g, { data: Tensor.float32([1, 6], xs) })).outputs;
    xs.forEach((x, i) => {
      expect((out.get('log')!.data as Float32Array)[i]).toBeCloseTo(Math.log10(2 + 1.5 * x), 5);
      expect((out.get('exp')!.data as Float32Array)[i]).toBeCloseTo(Math.pow(3, -1 + 0.5 * x), 5);
    });
  });
});

/** A double_data blob with legacy num/channels/height/width (how old V1 tools wrote some). */
function legacyDoubleBlob(dims: [number, number, number, number], values: number[]): number[] {
  const head = dims.flatMap((d, i) => [...varint(((i + 1) << 3) | 0), ...varint(d)]);
  return [...head, ...field(8, new Uint8Array(Float64Array.from(values).buffer))];
}

describe('Caffe layers OpenCV cannot load, against their definitions in Caffe', () => {
  const xs = [0.5, -1, 2, 0.25, -0.75, 1.5, 3, -2]; // [1, 2, 2, 2]
  const run = async (body: string, blobs: [string, string, number[][]][], inputShape = [1, 2, 2, 2], values = xs) => {
    const text = `input: "data" input_shape { ${inputShape.map((d) => `dim: ${d}`).join(' ')} }\n${body}`;
    const w = caffemodel(blobs);
    const m = await readCaffePrototxt(enc.encode(text), { fileName: 'f.prototxt', files: files({ 'f.prototxt': new Uint8Array(), 'f.caffemodel': w }) });
    return (await runGraph(m.graph, { data: Tensor.float32(inputShape, values) })).outputs;
  };

  it('InnerProduct with transpose: true multiplies by a stored K x N matrix; legacy double blobs read', async () => {
    // W (K=8, N=2) stored row-major as [8, 2], in a legacy 1x1x8x2 double_data blob
    const W = Array.from({ length: 16 }, (_, i) => (i % 5) - 2 + i / 10);
    const b = [0.5, -0.5];
    const out = await run('layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 2 transpose: true } }', [
      ['ip', 'InnerProduct', [legacyDoubleBlob([1, 1, 8, 2], W), legacyDoubleBlob([1, 1, 1, 2], b)]],
    ]);
    const y = out.get('ip')!;
    expect(y.shape).toEqual([1, 2]);
    for (let n = 0; n < 2; n++) {
      const want = xs.reduce((s, x, k) => s + x * W[k * 2 + n]!, b[n]!);
      expect((y.data as Float32Array)[n]).toBeCloseTo(want, 5);
    }
  });

  it('Bias adds a learned per-channel blob; Threshold gives 1 above the threshold', async () => {
    const out = await run(
      'layer { name: "bias" type: "Bias" bottom: "data" top: "bias" }\nlayer { name: "thr" type: "Threshold" bottom: "data" top: "thr" threshold_param { threshold: 0.5 } }',
      [['bias', 'Bias', [blob([2], [10, -10])]]],
    );
    expect(Array.from(out.get('bias')!.data as Float32Array)).toEqual(xs.map((x, i) => Math.fround(x + (i < 4 ? 10 : -10))));
    expect(Array.from(out.get('thr')!.data as Float32Array)).toEqual(xs.map((x) => (x > 0.5 ? 1 : 0)));
  });

  it('ArgMax over the flattened item (indices, and with out_max_val; top padded to the bottom\'s rank) and along an axis', async () => {
    const out = await run(
      `layer { name: "am" type: "ArgMax" bottom: "data" top: "am" argmax_param { top_k: 2 } }
layer { name: "amv" type: "ArgMax" bottom: "data" top: "amv" argmax_param { out_max_val: true } }
layer { name: "ax" type: "ArgMax" bottom: "data" top: "ax" argmax_param { axis: 1 } }`,
      [],
    );
    expect(out.get('am')!.shape).toEqual([1, 1, 2, 1]);
    expect(Array.from(out.get('am')!.data as Float32Array)).toEqual([6, 2]);
    expect(out.get('amv')!.shape).toEqual([1, 2, 1, 1]);
    expect(Array.from(out.get('amv')!.data as Float32Array)).toEqual([6, 3]);
    expect(out.get('ax')!.shape).toEqual([1, 1, 2, 2]);
    expect(Array.from(out.get('ax')!.data as Float32Array)).toEqual([0, 1, 1, 0]);
  });

  it("Pooling drops a last window past an unpadded axis once the other axis is padded (Caffe's check; OpenCV checks per axis)", async () => {
    // width 10, kernel 1, stride 4: ceil gives 4 windows, the last starting at 12 > 9; pad_h = 1
    const H = 7;
    const W = 10;
    const values = Array.from({ length: H * W }, (_, i) => Math.sin(i * 1.7) * 3);
    const out = await run('layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" pooling_param { pool: MAX kernel_h: 3 kernel_w: 1 stride_h: 2 stride_w: 4 pad_h: 1 pad_w: 0 } }', [], [1, 1, H, W], values);
    const y = out.get('pool')!;
    expect(y.shape).toEqual([1, 1, 4, 3]);
    for (let oh = 0; oh < 4; oh++) {
      for (let ow = 0; ow < 3; ow++) {
        let m = -Infinity;
        for (let h = Math.max(0, oh * 2 - 1); h < Math.min(H, oh * 2 + 2); h++) m = Math.max(m, values[h * W + ow * 4]!);
        expect((y.data as Float32Array)[oh * 3 + ow]).toBeCloseTo(m, 5);
      }
    }
  });

  it('Silence consumes a blob: it is no output; Split tops are the same value', async () => {
    const out = await run(
      `layer { name: "split" type: "Split" bottom: "data" top: "a" top: "b" }
layer { name: "relu" type: "ReLU" bottom: "a" top: "r" }
layer { name: "silence" type: "Silence" bottom: "b" }`,
      [],
    );
    expect([...out.keys()]).toEqual(['r']);
  });
});

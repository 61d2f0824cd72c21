// TensorFlow 1's eight-bit ops on utensor's test_quant_conv.pb (quint8 Consts with float ranges,
// QuantizedConv2D -> RequantizationRange -> Requantize -> Dequantize MIN_FIRST). Read as it is
// (every input a Const), nnport computes TensorFlow's integer arithmetic: the output equals, bit
// for bit, a NumPy re-implementation of TensorFlow's kernels (scripts/fixtures/
// tf_quantized_numpy.py), and lies within one output quantization step of the float graph's
// stored golden (output_conv.idx). With the input made a quint8 Placeholder, the ops become
// QDQ + a float conv in the IR, which the runtime runs within one step of both.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { convert, run } from '../../../src/index.js';
import { tensorflow } from '../../../src/formats/generated/tensorflow.js';
import { readGraphDef, readGraphDefModel } from '../../../src/formats/tensorflow/read.js';
import { corpusPath, REPO_ROOT } from '../../support/corpus.js';
import { maxAbsDiff, npyTensor } from './helpers.js';

const CACHE = join(REPO_ROOT, '.fixtures-cache/tf-quantized');
const PB = () => corpusPath('tf-graphdef/utensor-conv-golden/test_quant_conv.pb');
let ranges: { used_min: number; used_max: number; zero_x: number; zero_w: number };

beforeAll(() => {
  // the oracle takes about a second: recomputed on every run, never stale
  execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/tf_quantized_numpy.py'), CACHE], { stdio: 'inherit' });
  ranges = JSON.parse(readFileSync(join(CACHE, 'ranges.json'), 'utf8')) as typeof ranges;
});

/** output_conv.idx: IDX with big-endian float32 (type 0x0d). */
function golden(): Float32Array {
  const b = new Uint8Array(readFileSync(corpusPath('tf-graphdef/utensor-conv-golden/output_conv.idx')));
  const dv = new DataView(b.buffer, b.byteOffset);
  expect(b[2]).toBe(0x0d);
  const rank = b[3]!;
  const n = Array.from({ length: rank }, (_, i) => dv.getUint32(4 + 4 * i)).reduce((a, c) => a * c, 1);
  return Float32Array.from({ length: n }, (_, i) => dv.getFloat32(4 + 4 * rank + 4 * i));
}

describe('TensorFlow quantized ops (QuantizedConv2D, RequantizationRange, Requantize, Dequantize)', () => {
  it('all-constant graph: TensorFlow integer math, equal bit for bit to the NumPy re-implementation, within one step of the float golden', async () => {
    const g = await readGraphDef(new Uint8Array(readFileSync(PB())), { fileName: PB(), outputs: ['out_conv'] });
    const out = (await run(g, {})).outputs.get('out_conv')!;
    expect(out.shape).toEqual([3, 2, 2, 2]);
    const numpy = npyTensor(join(CACHE, 'out.npy'));
    expect(Buffer.from(out.bytes()).equals(Buffer.from(numpy.bytes()))).toBe(true);
    const step = (ranges.used_max - ranges.used_min) / 255;
    const err = maxAbsDiff(out.toFloat32(), golden());
    expect(err).toBeLessThan(step);
    expect(err).toBeGreaterThan(0);
  });

  it('the all-constant graph written as a .pb and read back without --outputs: its output an Identity of a Const, the same bits', async () => {
    const model = await readGraphDefModel(new Uint8Array(readFileSync(PB())), { fileName: PB(), outputs: ['out_conv'] });
    const pb = (await convert(model, 'm.pb')).bytes;
    const nodes = tensorflow.GraphDef.decode(pb).node.map((n) => `${n.name}:${n.op}`);
    expect(nodes).toEqual(['out_conv/value:Const', 'out_conv:Identity']);
    const back = await readGraphDef(pb, { fileName: 'm.pb' });
    expect(back.outputs.map((o) => o.name)).toEqual(['out_conv']);
    const out = (await run(back, {})).outputs.get('out_conv')!;
    expect(Buffer.from(out.bytes()).equals(Buffer.from(npyTensor(join(CACHE, 'out.npy')).bytes()))).toBe(true);
  });

  it('quint8 input fed at run time: DequantizeLinear + channels-last Conv + QuantizeLinear, within one step of TensorFlow and the golden', async () => {
    const gd = tensorflow.GraphDef.decode(new Uint8Array(readFileSync(PB())));
    const x = gd.node.find((n) => n.name === 'x_quint8_const')!;
    x.op = 'Placeholder';
    x.attr = { dtype: { type: 12 }, shape: { shape: { dim: [3, 5, 5, 3].map((size) => ({ size })) } } };
    const g = await readGraphDef(tensorflow.GraphDef.encode(gd).finish(), { fileName: 'placeholder.pb', outputs: ['out_conv'] });
    const ops = g.nodes.map((n) => n.opType);
    expect(ops).toEqual(expect.arrayContaining(['DequantizeLinear', 'Conv', 'QuantizeLinear', 'ReduceMax']));
    expect(g.inputs[0]).toMatchObject({ name: 'x_quint8_const', dtype: 'uint8' });
    const out = (await run(g, { x_quint8_const: npyTensor(join(CACHE, 'x.npy')) })).outputs.get('out_conv')!;
    const step = (ranges.used_max - ranges.used_min) / 255;
    expect(maxAbsDiff(out.toFloat32(), npyTensor(join(CACHE, 'out.npy')).toFloat32())).toBeLessThanOrEqual(step * 1.0001);
    expect(maxAbsDiff(out.toFloat32(), golden())).toBeLessThan(step);
  });
});

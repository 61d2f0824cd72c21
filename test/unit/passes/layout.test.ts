// The layout pass on the eight torchvision fixtures (exported by PyTorch): the channels-last
// graph has no Transpose inside the network, and run on the NHWC input it matches PyTorch's
// output (output.npy) within 1e-4 of the output's scale; with keepNchwIo the only transposes
// are at the inputs/outputs. Lowering back to ONNX ops gives the original computation (1e-5).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { convert } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { inferShapes } from '../../../src/ir/ops/index.js';
import { foldConstants } from '../../../src/passes/fold-constants.js';
import { channelsLastPerm, explainLayout, permuteTensor, toChannelsLast } from '../../../src/passes/layout.js';
import { lowerChannelsLast } from '../../../src/passes/lower-channels-last.js';
import { createNodeEvaluator } from '../../../src/runtime/evaluate.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { relativeError, TORCHVISION_MODELS, torchvisionFixture } from './torchvision.js';

const feedName = (g: Graph): string => g.inputs.filter((v) => !g.initializers.has(v.name))[0]!.name;
const transposeCount = (g: Graph): number => g.nodes.filter((n) => n.opType === 'Transpose').length;
const nhwc = (t: Tensor): Tensor => permuteTensor(t, channelsLastPerm(t.rank));

describe('layout pass: NCHW -> channels-last on the torchvision fixtures', () => {
  for (const name of TORCHVISION_MODELS) {
    it(`${name}: no transpose inside, NHWC output matches PyTorch`, async () => {
      const f = await torchvisionFixture(name);
      const { graph: folded } = foldConstants(f.graph, { evaluate: await createNodeEvaluator() });
      const result = toChannelsLast(folded);
      const g = result.graph;
      const lines = explainLayout(result);
      expect(transposeCount(g), lines.join('\n')).toBe(0);
      expect(result.transposes).toEqual([]);
      if (name === 'shufflenet_v2_x1_0') {
        // each channel shuffle is one Gather on the channel axis, its Reshape pair gone
        const gathers = g.nodes.filter((n) => n.opType === 'Gather' && n.attrs.axis?.value === 3);
        expect(gathers.length).toBe(f.graph.nodes.filter((n) => n.opType === 'Transpose').length);
        expect(g.nodes.filter((n) => n.opType === 'Reshape' && g.initializers.get(n.inputs[1]!)?.size === 5)).toEqual([]);
      }
      expect(g.nodes.some((n) => n.domain === 'nnport')).toBe(true);
      expect(g.nodes.filter((n) => n.domain === '' && ['Conv', 'MaxPool', 'AveragePool', 'BatchNormalization', 'GlobalAveragePool'].includes(n.opType))).toEqual([]);
      // every window op's padding is 'valid' or TF 'same', in floor mode (what NHWC writers express)
      const shapes = inferShapes(g).values;
      for (const n of g.nodes.filter((m) => m.domain === 'nnport' && ['Conv', 'MaxPool', 'AveragePool'].includes(m.opType))) {
        expect(n.attrs.ceil_mode?.value ?? 0, n.name).toBe(0);
        const pads = (n.attrs.pads?.value as number[] | undefined) ?? [];
        // max pooling keeps pads TF 'same' cannot express (a -inf pad has no Keras layer)
        if (pads.every((p) => p === 0) || n.opType === 'MaxPool') continue;
        const spatial = shapes.get(n.inputs[0]!)!.shape!.slice(1, -1) as number[];
        const W = g.initializers.get(n.inputs[1] ?? '');
        const k = (n.attrs.kernel_shape?.value as number[] | undefined) ?? W!.shape.slice(0, spatial.length);
        const s = (n.attrs.strides?.value as number[] | undefined) ?? spatial.map(() => 1);
        const d = (n.attrs.dilations?.value as number[] | undefined) ?? spatial.map(() => 1);
        const same = spatial.flatMap((inp, i) => {
          const total = Math.max(0, (Math.ceil(inp / s[i]!) - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1 - inp);
          return [Math.floor(total / 2), total - Math.floor(total / 2)];
        });
        expect([...spatial.map((_, i) => pads[i]), ...spatial.map((_, i) => pads[i + spatial.length])], n.name).toEqual([...spatial.map((_, i) => same[2 * i]), ...spatial.map((_, i) => same[2 * i + 1])]);
      }
      const out = (await runGraph(g, { [feedName(g)]: nhwc(f.input) })).outputs.get(g.outputs[0]!.name)!;
      const want = f.output.rank >= 3 ? nhwc(f.output) : f.output;
      expect(out.shape).toEqual(want.shape);
      expect(relativeError(out, want)).toBeLessThan(1e-4);
    });
  }
});

describe('layout pass options', () => {
  it('keepNchwIo: the only transposes are at the input and the output, reported as such; NCHW output matches PyTorch', async () => {
    const f = await torchvisionFixture('seg_head');
    const result = toChannelsLast(f.graph, { keepNchwIo: true });
    const g = result.graph;
    expect(transposeCount(g)).toBe(2);
    expect(result.transposes.map((t) => t.io)).toEqual([true, true]);
    expect(result.transposes.map((t) => t.perm)).toEqual([
      [0, 2, 3, 1],
      [0, 3, 1, 2],
    ]);
    const out = (await runGraph(g, { [feedName(g)]: f.input })).outputs.get(g.outputs[0]!.name)!;
    expect(relativeError(out, f.output)).toBeLessThan(1e-4);
  });

  it("lenet: the dense layer after the flatten gets its weight rows in H·W·C order, and tflite target lays conv weights OHWI", async () => {
    const f = await torchvisionFixture('lenet');
    const result = toChannelsLast(f.graph, { target: 'tflite' });
    expect(result.notes.some((n) => /weight rows re-ordered/.test(n))).toBe(true);
    const convs = result.graph.nodes.filter((n) => n.domain === 'nnport' && n.opType === 'Conv');
    expect(convs.length).toBeGreaterThan(0);
    for (const c of convs) expect(c.attrs.kernel_layout).toEqual({ type: 'string', value: 'OHWI' });
    const g = result.graph;
    const out = (await runGraph(g, { [feedName(g)]: nhwc(f.input) })).outputs.get(g.outputs[0]!.name)!;
    expect(relativeError(out, f.output)).toBeLessThan(1e-4);
  });

  it('mobilenet_v2 for tflite: depthwise convs stay HWIO (a reshape of TFLite\'s (1, kh, kw, C·M)), others OHWI', async () => {
    const f = await torchvisionFixture('mobilenet_v2');
    const g = toChannelsLast(f.graph, { target: 'tflite' }).graph;
    const convs = g.nodes.filter((n) => n.domain === 'nnport' && n.opType === 'Conv');
    const dw = convs.filter((n) => (n.attrs.group?.value as number) > 1);
    expect(dw.length).toBeGreaterThan(0);
    for (const c of dw) {
      expect(c.attrs.kernel_layout?.value).toBe('HWIO');
      expect(g.initializers.get(c.inputs[1]!)!.shape[2]).toBe(1);
    }
    for (const c of convs.filter((n) => !dw.includes(n))) expect(c.attrs.kernel_layout?.value).toBe('OHWI');
    const out = (await runGraph(g, { [feedName(g)]: nhwc(f.input) })).outputs.get(g.outputs[0]!.name)!;
    expect(relativeError(out, f.output)).toBeLessThan(1e-4);
  });
});

describe('lowering channels-last graphs back to ONNX ops', () => {
  for (const name of ['lenet', 'seg_head', 'shufflenet_v2_x1_0', 'resnet18']) {
    it(`${name}: NCHW -> channels-last -> ONNX ops computes the original (1e-5), transposes only at the I/O`, async () => {
      const f = await torchvisionFixture(name);
      const { graph: folded } = foldConstants(f.graph, { evaluate: await createNodeEvaluator() });
      const cl = toChannelsLast(folded).graph;
      const lowered = lowerChannelsLast(cl);
      const g = lowered.graph;
      expect(g.nodes.filter((n) => n.domain === 'nnport')).toEqual([]);
      expect(g.opsets.nnport).toBeUndefined();
      expect(lowered.transposes.filter((t) => !t.io), explainLayout(lowered).join('\n')).toEqual([]);
      expect(transposeCount(g)).toBe(lowered.transposes.length);
      expect(transposeCount(g)).toBeLessThanOrEqual(2);
      const x = nhwc(f.input);
      const out = (await runGraph(g, { [feedName(g)]: x })).outputs.get(g.outputs[0]!.name)!;
      const orig = (await runGraph(f.graph, { [feedName(f.graph)]: f.input })).outputs.get(f.graph.outputs[0]!.name)!;
      const want = orig.rank >= 3 ? nhwc(orig) : orig;
      expect(relativeError(out, want)).toBeLessThan(1e-5);
      expect(relativeError(out, f.output.rank >= 3 ? nhwc(f.output) : f.output)).toBeLessThan(1e-4);
    });
  }
});

describe('convert to ONNX lowers channels-last graphs', () => {
  it('squeezenet1_1 made channels-last, written as .onnx by convert(), runs in onnxruntime-node on the NHWC input like PyTorch', async () => {
    const f = await torchvisionFixture('squeezenet1_1');
    const cl = toChannelsLast(f.graph).graph;
    const { bytes } = await convert({ kind: 'graph', format: 'onnx', graph: cl }, 'squeezenet-nhwc.onnx');
    const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    const x = nhwc(f.input);
    const res = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
    await session.release();
    const y = res[session.outputNames[0]!]!;
    const got = new Tensor('float32', [...y.dims], y.data as Float32Array);
    expect(relativeError(got, f.output.rank >= 3 ? nhwc(f.output) : f.output)).toBeLessThan(1e-4);
  });
});

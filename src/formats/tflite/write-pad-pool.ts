// Pads and pools TFLite has no builtin for, in builtins that compute them exactly:
//   Pad mode edge (PyTorch's ReplicationPad): per padded axis one GATHER of the clamped positions
//     (every element of the result is an element of the input: int8 moves bytes, nothing rounds);
//   dilated MaxPool: MAX_POOL_2D has no dilation; the padded input (PADV2 with the lowest value)
//     is cut into its kh x kw dilated taps, each a STRIDED_SLICE by the pool's strides, and their
//     MAXIMUM taken: the same max over the same elements;
//   AveragePool with explicit pads that do not count (count_include_pad 0): AVERAGE_POOL_2D of the
//     zero-padded input (k·k in every divisor), MUL by k·k / (the window's elements inside the input),
//     a constant per output position.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInts, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { BuiltinOperator } from '../generated/tflite/builtin-operator.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { MulOptions } from '../generated/tflite/mul-options.js';
import { Pool2DOptions } from '../generated/tflite/pool2-doptions.js';
import { GatherOptions } from '../generated/tflite/gather-options.js';
import { Padding } from '../generated/tflite/padding.js';
import { StridedSliceOptions } from '../generated/tflite/strided-slice-options.js';
import { int32, openSpatial, padSpatial, spatialPadding, tfSamePads, type Opts, type WriteContext } from './ops-write.js';

/** Quantized data moved as bytes: the output must carry the input's parameters. */
function sameQuant(n: Node, c: WriteContext, x: string, y: string): void {
  const a = c.info(x).quant;
  const b = c.info(y).quant;
  if (!a && !b) return;
  const same = !!a && !!b && a.scale.length === b.scale.length && a.scale.every((s, i) => s === b.scale[i] && a.zeroPoint[i] === b.zeroPoint[i]);
  if (!same) throw new UnsupportedError(`quantized ${n.opType} whose output has other parameters than its input in a TFLite file`, `node '${n.name}'`);
}

/** Pad mode edge: each padded axis a GATHER of positions clamp(i - begin, 0, dim - 1). `pads`: ONNX's [begins..., ends...]. */
export function edgePad(n: Node, c: WriteContext, x: string, y: string, pads: number[]): void {
  const info = c.info(x);
  const rank = info.shape.length;
  if (pads.length !== 2 * rank) throw new UnsupportedError(`Pad with ${pads.length} pads for rank ${rank} in a TFLite file`, `node '${n.name}'`);
  if (pads.some((p) => p < 0)) throw new UnsupportedError('Pad with negative pads in a TFLite file', `node '${n.name}'`);
  sameQuant(n, c, x, y);
  const axes = Array.from({ length: rank }, (_, a) => a).filter((a) => pads[a]! > 0 || pads[a + rank]! > 0);
  if (axes.some((a) => info.signature?.[a] === -1)) throw new UnsupportedError('Pad mode edge of an axis known only at run time in a TFLite file', `node '${n.name}'`);
  if (axes.some((a) => info.shape[a] === 0)) throw new UnsupportedError('Pad mode edge of an empty axis in a TFLite file', `node '${n.name}': there is no edge value to repeat`);
  if (!axes.length) {
    c.emit({ code: BuiltinOperator.RESHAPE, inputs: [x, c.addConstant(`${y}_shape`, int32(info.shape))], outputs: [y] });
    return;
  }
  let cur = x;
  const shape = [...info.shape];
  axes.forEach((a, k) => {
    const dim = info.shape[a]!;
    const begin = pads[a]!;
    const size = dim + begin + pads[a + rank]!;
    const positions = Int32Array.from({ length: size }, (_, i) => Math.min(Math.max(i - begin, 0), dim - 1));
    shape[a] = size;
    const out = k === axes.length - 1 ? y : c.addTensor(`${y}_edge${a}`, { ...info, shape: [...shape], signature: info.signature?.map((d, i) => (i === a ? size : d)) });
    c.emit({ code: BuiltinOperator.GATHER, inputs: [cur, c.addConstant(`${y}_edge${a}_positions`, new Tensor('int32', [size], positions))], outputs: [out], options: (b) => [BuiltinOptions.GatherOptions, GatherOptions.createGatherOptions(b, a, 0)] });
    cur = out;
  });
}

/** A 2-D MaxPool with dilations (NHWC): the MAXIMUM of its kh x kw dilated taps, each a strided slice of the padded input. */
export function dilatedMaxPool(n: Node, c: WriteContext): void {
  const x = c.tensor(n.inputs[0]!);
  const y = c.tensor(n.outputs[0]!);
  if (n.outputs[1]) throw new UnsupportedError('MaxPool with an Indices output in a TFLite file', `node '${n.name}'`);
  const kernel = attrInts(n, 'kernel_shape', []);
  const strides = attrInts(n, 'strides', [1, 1]);
  const dilations = attrInts(n, 'dilations', [1, 1]);
  const inShape = c.shapeOf(x);
  const outShape = c.shapeOf(y);
  if (openSpatial(c, x).some(Boolean)) throw new UnsupportedError('dilated MaxPool over a dim known only at run time in a TFLite file', `node '${n.name}'`);
  sameQuant(n, c, x, y);
  const sp = spatialPadding(n, inShape, kernel, strides, dilations, outShape);
  const pairs = sp.explicit ?? (sp.padding === Padding.SAME ? kernel.map((k, i) => tfSamePads(inShape[1 + i]!, k, strides[i]!, dilations[i]!)) : kernel.map((): [number, number] => [0, 0]));
  const input = pairs.some(([b, e]) => b || e) ? padSpatial(c, x, pairs, -3.4e38) : x;
  const [N, Ho, Wo, C] = outShape as [number, number, number, number];
  const sliceOpts: Opts = (b) => [BuiltinOptions.StridedSliceOptions, StridedSliceOptions.createStridedSliceOptions(b, 0, 0, 0, 0, 0, false)];
  const stridesT = c.addConstant(`${y}_tap_strides`, int32([1, strides[0]!, strides[1]!, 1]));
  const like = { ...c.info(y), signature: undefined };
  let acc: string | undefined;
  const taps = kernel[0]! * kernel[1]!;
  for (let i = 0; i < kernel[0]!; i++) {
    for (let j = 0; j < kernel[1]!; j++) {
      const h0 = i * dilations[0]!;
      const w0 = j * dilations[1]!;
      const begin = c.addConstant(`${y}_tap${i}_${j}_begin`, int32([0, h0, w0, 0]));
      const end = c.addConstant(`${y}_tap${i}_${j}_end`, int32([N, h0 + (Ho - 1) * strides[0]! + 1, w0 + (Wo - 1) * strides[1]! + 1, C]));
      const tap = c.addTensor(`${y}_tap${i}_${j}`, like);
      c.emit({ code: BuiltinOperator.STRIDED_SLICE, inputs: [input, begin, end, stridesT], outputs: [tap], options: sliceOpts });
      if (acc === undefined) acc = tap;
      else {
        const last = i * kernel[1]! + j === taps - 1;
        const out = last ? y : c.addTensor(`${y}_max${i}_${j}`, like);
        c.emit({ code: BuiltinOperator.MAXIMUM, inputs: [acc, tap], outputs: [out] });
        acc = out;
      }
    }
  }
  // a 1 x 1 window: the one tap is the output
  if (taps === 1) c.emit({ code: BuiltinOperator.RESHAPE, inputs: [acc!, c.addConstant(`${y}_shape`, int32(outShape))], outputs: [y] });
}

/** AveragePool whose explicit pads do not count: the padded average rescaled by k·k / (elements inside the input) per output position. */
export function averagePoolExcludingPads(n: Node, c: WriteContext, x: string, y: string, pairs: [number, number][], kernel: number[], strides: number[]): void {
  if (c.info(x).quant || c.info(y).quant) throw new UnsupportedError('quantized AveragePool with explicit padding that does not count in a TFLite file', `node '${n.name}'`);
  if (openSpatial(c, x).some(Boolean)) throw new UnsupportedError('AveragePool with explicit padding that does not count over a dim known only at run time in a TFLite file', `node '${n.name}'`);
  const inShape = c.shapeOf(x);
  const outShape = c.shapeOf(y);
  const [Ho, Wo] = [outShape[1]!, outShape[2]!];
  // elements of each window inside the input, per axis
  const inside = (o: number, a: number) => {
    const start = o * strides[a]! - pairs[a]![0];
    return Math.min(start + kernel[a]!, inShape[1 + a]!) - Math.max(start, 0);
  };
  const factor = new Float32Array(Ho * Wo);
  for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) factor[i * Wo + j] = (kernel[0]! * kernel[1]!) / (inside(i, 0) * inside(j, 1));
  const padded = padSpatial(c, x, pairs);
  const mean = c.addTensor(`${y}_padded_mean`, { ...c.info(y), signature: undefined });
  c.emit({ code: BuiltinOperator.AVERAGE_POOL_2D, inputs: [padded], outputs: [mean], options: (b, act) => [BuiltinOptions.Pool2DOptions, Pool2DOptions.createPool2DOptions(b, Padding.VALID, strides[1]!, strides[0]!, kernel[1]!, kernel[0]!, act)] });
  const scale = c.addConstant(`${y}_window_scale`, Tensor.float32([1, Ho, Wo, 1], factor));
  c.emit({ code: BuiltinOperator.MUL, inputs: [mean, scale], outputs: [y], options: (b, act) => [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, act)], fusable: true });
}

// Conv and ConvTranspose (ONNX semantics, NCHW float32): attributes and window geometry from
// the IR's op definitions (src/ir/ops/conv.ts), data checks here; the compute behind src/wasm/dense.ts (1-D and 2-D: im2col + packed GEMM, a direct SIMD
// kernel for depthwise) and src/wasm/conv-nd.ts (any other spatial rank).
import { ShapeError } from '../../ir/errors.js';
import { convDefs, forwardAxis, windowOf, type ConvAttrs, type ConvTransposeAttrs } from '../../ir/ops/index.js';
import { Tensor, shapeSize } from '../../ir/tensor.js';
import { defineOp, type OpTable } from '../op.js';
import { convNd, convTransposeNd } from '../../wasm/conv-nd.js';
import { conv2dF32, convTranspose2dF32, type Conv2dGeometry } from '../../wasm/dense.js';
import { float32Data, requireInput } from './gemm.js';

/** The spatial extent of a conv's input (at least one spatial axis). */
function spatialOf(shape: readonly number[], op: string, what: string): number[] {
  if (shape.length < 3) throw new ShapeError(`${op} ${what} must have rank >= 3 (N, C, spatial...), got [${shape.join(', ')}]`);
  return shape.slice(2);
}

/** [H, W] pair of a 1-D or 2-D list (1-D becomes [1, x]). */
const hw = (v: number[], one = 1): [number, number] => (v.length === 1 ? [one, v[0]!] : [v[0]!, v[1]!]);

function checkBias(B: Tensor | undefined, M: number, op: string): Float32Array | undefined {
  if (!B) return undefined;
  const b = float32Data(B, op, 'B');
  if (B.rank !== 1 || B.shape[0] !== M) throw new ShapeError(`${op} bias must have shape [${M}], got [${B.shape.join(', ')}]`);
  return b;
}

const Conv = defineOp<ConvAttrs>({
  attrs: convDefs.Conv.attrs,
  run: runConv,
});

const FusedConv = defineOp<ConvAttrs>({
  attrs: convDefs['nnport::FusedConv'].attrs,
  run: runConv,
});

function runConv(inputs: ReadonlyArray<Tensor | undefined>, at: ConvAttrs): Tensor[] {
  const X = requireInput(inputs, 0, 'X');
  const Wt = requireInput(inputs, 1, 'W');
  const x = float32Data(X, 'Conv', 'X');
  float32Data(Wt, 'Conv', 'W');
  const sp = spatialOf(X.shape, 'Conv', 'input X');
  if (Wt.rank !== X.rank) throw new ShapeError(`Conv weight W [${Wt.shape.join(', ')}] must have the rank of X [${X.shape.join(', ')}]`);
  const [N, C] = [X.shape[0]!, X.shape[1]!];
  const [M, Cg] = [Wt.shape[0]!, Wt.shape[1]!];
  const G = at.group;
  const k = Wt.shape.slice(2);
  if (at.kernelShape && at.kernelShape.join() !== k.join()) throw new ShapeError(`kernel_shape [${at.kernelShape.join(', ')}] does not match weights [${Wt.shape.join(', ')}]`);
  if (Cg * G !== C) throw new ShapeError(`Conv input has ${C} channels but weights [${Wt.shape.join(', ')}] with group ${G} expect ${Cg * G}`);
  if (M % G !== 0) throw new ShapeError(`Conv output channels ${M} are not divisible by group ${G}`);
  const bias = checkBias(inputs[2], M, 'Conv');
  const win = windowOf(at, k, 'Conv');
  const r = k.length;
  const out: number[] = [];
  const pb: number[] = [];
  for (let i = 0; i < r; i++) {
    const [o, b] = forwardAxis(sp[i]!, k[i]!, win.s[i]!, win.d[i]!, win.pads[i]!, win.pads[i + r]!, at.autoPad);
    if (o < 0) throw new ShapeError(`Conv window (kernel ${k[i]}, dilation ${win.d[i]}) is larger than the padded input (${sp[i]}) on spatial axis ${i}`);
    out.push(o);
    pb.push(b);
  }
  const outShape = [N, M, ...out];
  const size = shapeSize(outShape);
  if (size === 0) return [new Tensor('float32', outShape, new Float32Array(0))];
  const plane = shapeSize(out);
  if (Cg * shapeSize(k) === 0 || X.size === 0) {
    // No input taps: every output is its bias.
    const y = new Float32Array(size);
    if (bias) for (let i = 0; i < y.length; i++) y[i] = clampTo(bias[Math.floor(i / plane) % M]!, at.actMin, at.actMax);
    else if (at.actMin > 0 || at.actMax < 0) y.fill(clampTo(0, at.actMin, at.actMax));
    return [new Tensor('float32', outShape, y)];
  }
  if (r !== 1 && r !== 2) {
    return [new Tensor('float32', outShape, convNd(x, N, C, sp, Wt, M, G, bias, { k, s: win.s, d: win.d, pb }, out, at.actMin, at.actMax))];
  }
  const [H, W] = hw(sp);
  const [OH, OW] = hw(out);
  const [kh, kw] = hw(k);
  const [sh, sw] = hw(win.s);
  const [dh, dw] = hw(win.d);
  const [pt, pl] = hw(pb, 0);
  const geom: Conv2dGeometry = { N, C, H, W, M, G, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl };
  const y = conv2dF32(x, Wt, bias, geom, at.actMin, at.actMax);
  return [new Tensor('float32', outShape, y)];
}

/** The scalar clamp of the kernels' activation epilogue (NaN passes through). */
function clampTo(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

const ConvTranspose = defineOp<ConvTransposeAttrs>({
  attrs: convDefs.ConvTranspose.attrs,
  run(inputs, at) {
    const X = requireInput(inputs, 0, 'X');
    const Wt = requireInput(inputs, 1, 'W');
    const x = float32Data(X, 'ConvTranspose', 'X');
    float32Data(Wt, 'ConvTranspose', 'W');
    const sp = spatialOf(X.shape, 'ConvTranspose', 'input X');
    if (Wt.rank !== X.rank) throw new ShapeError(`ConvTranspose weight W [${Wt.shape.join(', ')}] must have the rank of X [${X.shape.join(', ')}]`);
    const [N, C] = [X.shape[0]!, X.shape[1]!];
    const G = at.group;
    const [Cw, Mg] = [Wt.shape[0]!, Wt.shape[1]!];
    const k = Wt.shape.slice(2);
    if (Cw !== C) throw new ShapeError(`ConvTranspose input has ${C} channels but weights [${Wt.shape.join(', ')}] expect ${Cw}`);
    if (C % G !== 0) throw new ShapeError(`ConvTranspose input channels ${C} are not divisible by group ${G}`);
    if (at.kernelShape && at.kernelShape.join() !== k.join()) throw new ShapeError(`kernel_shape [${at.kernelShape.join(', ')}] does not match weights [${Wt.shape.join(', ')}]`);
    const M = Mg * G;
    const Cg = C / G;
    const bias = checkBias(inputs[2], M, 'ConvTranspose');
    const win = windowOf(at, k, 'ConvTranspose');
    const r = k.length;
    const op = at.outputPadding ?? new Array<number>(r).fill(0);
    if (op.length !== r) throw new ShapeError(`output_padding [${op.join(', ')}] must have ${r} entries`);
    let given = at.outputShape;
    if (given && given.length === r + 2) given = given.slice(2);
    if (given && given.length !== r) throw new ShapeError(`output_shape [${at.outputShape!.join(', ')}] must have ${r} spatial entries`);
    const out: number[] = [];
    const pb: number[] = [];
    for (let i = 0; i < r; i++) {
      const ek = (k[i]! - 1) * win.d[i]! + 1;
      const natural = win.s[i]! * (sp[i]! - 1) + op[i]! + ek;
      if (given || at.autoPad === 'SAME_UPPER' || at.autoPad === 'SAME_LOWER') {
        // The pads follow from the requested size; SAME_UPPER puts the odd one at the end. A size
        // past the full output pads nothing (onnxruntime clamps the total at 0): the rows past it are
        // zeros (and the bias) at the end, whatever auto_pad says
        const o = given ? given[i]! : sp[i]! * win.s[i]!;
        const total = Math.max(0, natural - o);
        const half = Math.floor(total / 2);
        out.push(o);
        pb.push(at.autoPad === 'SAME_UPPER' ? half : total - half);
      } else {
        const [b, e] = at.autoPad === 'VALID' ? [0, 0] : [win.pads[i]!, win.pads[i + r]!];
        const o = natural - b - e;
        if (o < 0) throw new ShapeError(`ConvTranspose pads [${win.pads.join(', ')}] exceed the output size on spatial axis ${i}`);
        out.push(o);
        pb.push(b);
      }
    }
    const outShape = [N, M, ...out];
    const y = new Float32Array(shapeSize(outShape));
    if (y.length === 0) return [new Tensor('float32', outShape, y)];
    const plane = shapeSize(out);
    if (bias) for (let i = 0; i < y.length; i++) y[i] = bias[Math.floor(i / plane) % M]!;
    if (X.size === 0 || Cg === 0 || Mg * shapeSize(k) === 0) return [new Tensor('float32', outShape, y)];
    if (r !== 1 && r !== 2) {
      convTransposeNd(x, N, C, sp, Wt, M, G, { k, s: win.s, d: win.d, pb }, out, y);
      return [new Tensor('float32', outShape, y)];
    }
    const [H, W] = hw(sp);
    const [OH, OW] = hw(out);
    const [kh, kw] = hw(k);
    const [sh, sw] = hw(win.s);
    const [dh, dw] = hw(win.d);
    const [pt, pl] = hw(pb, 0);
    convTranspose2dF32(x, Wt, { N, C, H, W, M, G, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl }, y);
    return [new Tensor('float32', outShape, y)];
  },
});

export const CONV_OPS: OpTable = { Conv, ConvTranspose, 'nnport::FusedConv': FusedConv };

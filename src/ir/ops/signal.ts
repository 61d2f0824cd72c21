// Signal processing (ONNX opset 17): HannWindow, HammingWindow, BlackmanWindow, DFT, STFT and
// MelWeightMatrix. Complex values are a trailing dimension of 2 (real, imaginary); a real signal
// has a trailing 1.
import type { DType } from '../dtypes.js';
import { ShapeError, UnsupportedError } from '../errors.js';
import { attrInt, callerDim, type Dim, type Node } from '../graph.js';
import { dtypeFromOnnxEnum } from './cast.js';
import { defineOpDef, dimMap, fmtShape, input, normAxis, scalarOf, type InferContext, type OpDef, type OpDefTable, type ValueType } from './op-def.js';

export interface SignalWindowAttrs {
  /** 1: the first `size` points of a window of `size + 1` (for spectral analysis); 0: symmetric */
  periodic: boolean;
  dtype: DType;
}

export interface DftAttrs {
  inverse: boolean;
  onesided: boolean;
  /** opset < 20: the axis attribute (default 1); opset 20 reads it from input 2 (default -2) */
  axis: number | undefined;
}

export interface StftAttrs {
  onesided: boolean;
}

export interface MelWeightMatrixAttrs {
  dtype: DType;
}

const NUMERIC_OUT: ReadonlySet<DType> = new Set<DType>(['float32', 'float64', 'float16', 'bfloat16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']);

function outputDType(node: Node, allowed: ReadonlySet<DType>): DType {
  const dtype = dtypeFromOnnxEnum(attrInt(node, 'output_datatype', 1));
  if (!allowed.has(dtype)) throw new UnsupportedError(`${node.opType} output_datatype ${dtype}`);
  return dtype;
}

function flag(node: Node, name: string, fallback: number): boolean {
  const v = attrInt(node, name, fallback);
  if (v !== 0 && v !== 1) throw new ShapeError(`${node.opType} ${name} must be 0 or 1, got ${v}`);
  return v === 1;
}

/** A scalar (or one-element) integer input's known value as a dim, else null. */
function scalarDim(v: ValueType | undefined): Dim {
  const n = scalarOf(v);
  return n === undefined ? null : n;
}

function checkScalar(ctx: InferContext<unknown>, i: number, what: string): void {
  const s = ctx.inputs[i]?.shape;
  if (s && !(s.length === 0 || (s.length === 1 && (s[0] === 1 || callerDim(s[0]!) === null)))) throw new ShapeError(`${ctx.node.opType} ${what} must be a scalar, got ${fmtShape(s)}`);
}

function windowDef(op: string): OpDef<SignalWindowAttrs> {
  return defineOpDef<SignalWindowAttrs>({
    opType: op,
    domain: '',
    layout: 'source',
    attrs: (node) => ({ periodic: flag(node, 'periodic', 1), dtype: outputDType(node, NUMERIC_OUT) }),
    infer: (ctx) => {
      input(ctx, 0, 'size');
      checkScalar(ctx, 0, 'size');
      const size = scalarDim(ctx.inputs[0]);
      if (typeof size === 'number' && size < 0) throw new ShapeError(`${op} size ${size} is negative`);
      return [{ dtype: ctx.attrs.dtype, shape: [size] }];
    },
  });
}

/** The output length of a transform of `n` points: all of them, or the floor(n/2)+1 a real signal's spectrum determines. */
export const spectrumBins = (n: number, onesided: boolean): number => (onesided ? Math.floor(n / 2) + 1 : n);

export const signalDefs = {
  HannWindow: windowDef('HannWindow'),
  HammingWindow: windowDef('HammingWindow'),
  BlackmanWindow: windowDef('BlackmanWindow'),
  DFT: defineOpDef<DftAttrs>({
    opType: 'DFT',
    domain: '',
    layout: 'axis',
    attrs: (node, opset) => {
      const inverse = flag(node, 'inverse', 0);
      const onesided = flag(node, 'onesided', 0);
      // Opset 17 leaves inverse + onesided undefined (later opsets make it an inverse real FFT
      // of a half spectrum): refused rather than guessed.
      if (inverse && onesided) throw new UnsupportedError('DFT with inverse=1 and onesided=1');
      return { inverse, onesided, axis: opset < 20 ? attrInt(node, 'axis', 1) : undefined };
    },
    infer: (ctx) => {
      const x = input(ctx, 0, 'input');
      checkScalar(ctx, 1, 'dft_length');
      if (!x.shape) return [{ dtype: x.dtype }];
      const r = x.shape.length;
      if (r < 2) throw new ShapeError(`DFT input must have rank >= 2 ([..., signal, 1 or 2]), got ${fmtShape(x.shape)}`);
      const last = x.shape[r - 1];
      if (typeof last === 'number' && last !== 1 && last !== 2) throw new ShapeError(`DFT input's last dimension must be 1 (real) or 2 (complex), got ${fmtShape(x.shape)}`);
      let axisValue = ctx.attrs.axis;
      if (axisValue === undefined) {
        if (ctx.inputs[2]) {
          axisValue = scalarOf(ctx.inputs[2]);
          if (axisValue === undefined) return [{ dtype: x.dtype, shape: new Array<Dim>(r).fill(null).map((d, i) => (i === r - 1 ? 2 : d)) }];
        } else axisValue = -2;
      }
      const axis = dftAxis(axisValue, r);
      const n = ctx.inputs[1] ? scalarDim(ctx.inputs[1]) : x.shape[axis]!;
      const shape = [...x.shape];
      shape[axis] = dimMap(n, (k) => spectrumBins(k, ctx.attrs.onesided));
      shape[r - 1] = 2;
      return [{ dtype: x.dtype, shape }];
    },
  }),
  STFT: defineOpDef<StftAttrs>({
    opType: 'STFT',
    domain: '',
    layout: 'axis',
    attrs: (node) => ({ onesided: flag(node, 'onesided', 1) }),
    infer: (ctx) => {
      const x = input(ctx, 0, 'signal');
      input(ctx, 1, 'frame_step');
      checkScalar(ctx, 1, 'frame_step');
      checkScalar(ctx, 3, 'frame_length');
      const w = ctx.inputs[2]?.shape;
      if (w && w.length !== 1) throw new ShapeError(`STFT window must be 1-D, got ${fmtShape(w)}`);
      if (x.shape && (x.shape.length !== 3 || (typeof x.shape[2] === 'number' && x.shape[2] !== 1 && x.shape[2] !== 2))) {
        throw new ShapeError(`STFT signal must be [batch, length, 1 or 2], got ${fmtShape(x.shape)}`);
      }
      const frameLength: Dim = ctx.inputs[3] ? scalarDim(ctx.inputs[3]) : w ? w[0]! : x.shape ? x.shape[1]! : null;
      const step = scalarDim(ctx.inputs[1]);
      const length = x.shape?.[1] ?? null;
      let frames: Dim = null;
      if (typeof frameLength === 'number' && typeof step === 'number' && typeof length === 'number') {
        if (step <= 0) throw new ShapeError(`STFT frame_step must be positive, got ${step}`);
        if (frameLength > length) throw new ShapeError(`STFT frame_length ${frameLength} exceeds the signal length ${length}`);
        frames = 1 + Math.floor((length - frameLength) / step);
      }
      return [{ dtype: x.dtype, shape: [x.shape?.[0] ?? null, frames, dimMap(frameLength, (k) => spectrumBins(k, ctx.attrs.onesided)), 2] }];
    },
  }),
  MelWeightMatrix: defineOpDef<MelWeightMatrixAttrs>({
    opType: 'MelWeightMatrix',
    domain: '',
    layout: 'source',
    attrs: (node) => ({ dtype: outputDType(node, NUMERIC_OUT) }),
    infer: (ctx) => {
      ['num_mel_bins', 'dft_length', 'sample_rate', 'lower_edge_hertz', 'upper_edge_hertz'].forEach((what, i) => {
        input(ctx, i, what);
        checkScalar(ctx, i, what);
      });
      const bins = scalarDim(ctx.inputs[0]);
      const dftLength = scalarDim(ctx.inputs[1]);
      return [{ dtype: ctx.attrs.dtype, shape: [dimMap(dftLength, (n) => Math.floor(n / 2) + 1), bins] }];
    },
  }),
} satisfies OpDefTable;

/** DFT's axis made non-negative: any axis but the last (the real/imaginary one). */
export function dftAxis(axis: number, rank: number): number {
  const a = normAxis(axis, rank, 'DFT axis');
  if (a === rank - 1) throw new ShapeError(`DFT axis ${axis} is the real/imaginary dimension of a rank-${rank} input`);
  return a;
}

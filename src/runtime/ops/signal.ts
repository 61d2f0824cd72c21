// HannWindow, HammingWindow, BlackmanWindow, DFT, STFT and MelWeightMatrix (ONNX opset 17).
// Transforms run in float64 (fft.ts) and round once to the input's dtype.
import { checkAllocation, checkTensorShape } from '../../ir/budget.js';
import { ShapeError } from '../../ir/errors.js';
import type { OpDef } from '../../ir/ops/op-def.js';
import { dftAxis, signalDefs, spectrumBins, type DftAttrs, type MelWeightMatrixAttrs, type StftAttrs, type SignalWindowAttrs } from '../../ir/ops/signal.js';
import { shapeSize, type Tensor } from '../../ir/tensor.js';
import { defineOp, type OpKernel, type OpTable } from '../op.js';
import { floatValues, need, readInts, readScalar, tensorFromNumbers } from './args.js';
import { fftPlan } from './fft.js';

/** Cosine-sum window a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size (periodic) or size - 1 (symmetric). */
function cosineWindow(def: OpDef<SignalWindowAttrs>, a0: number, a1: number, a2: number): OpKernel<SignalWindowAttrs> {
  return defineOp<SignalWindowAttrs>({
    attrs: def.attrs,
    run: (inputs, a, ctx) => {
      const size = readInts(need(inputs, 0, 'size'), `${ctx.node.opType} size`);
      if (size.length !== 1) throw new ShapeError(`${ctx.node.opType} size must be a scalar, got ${size.length} elements`);
      const n = size[0]!;
      if (n < 0) throw new ShapeError(`${ctx.node.opType} size ${n} is negative`);
      const N = a.periodic ? n : n - 1;
      checkAllocation(n, 8, `${ctx.node.opType} of size ${n}`);
      const w = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const t = (2 * Math.PI * i) / N;
        w[i] = a0 - a1 * Math.cos(t) + a2 * Math.cos(2 * t);
      }
      // a symmetric window of one point is [1] (N = 0 would divide by zero), as NumPy and PyTorch have it
      if (N === 0) w.fill(1);
      return [tensorFromNumbers(a.dtype, [n], w)];
    },
  });
}

function intScalar(t: Tensor, what: string): number {
  const v = readInts(t, what);
  if (v.length !== 1) throw new ShapeError(`${what} must be a scalar, got shape [${t.shape.join(', ')}]`);
  return v[0]!;
}

/** [..., n, ..., 1|2] -> [..., bins, ..., 2]: the transform of length `n` along `axis`, zero-padded or truncated to n. */
export function dft(x: Tensor, axis: number, n: number, inverse: boolean, onesided: boolean): Tensor {
  const r = x.rank;
  const c = x.shape[r - 1]!;
  if (c !== 1 && c !== 2) throw new ShapeError(`DFT input's last dimension must be 1 (real) or 2 (complex), got [${x.shape.join(', ')}]`);
  if (!Number.isInteger(n) || n < 1) throw new ShapeError(`DFT dft_length must be positive, got ${n}`);
  const xd = floatValues(x, 'DFT input');
  const L = x.shape[axis]!;
  const bins = spectrumBins(n, onesided);
  const outer = shapeSize(x.shape.slice(0, axis));
  const inner = shapeSize(x.shape.slice(axis + 1, r - 1));
  const outShape = [...x.shape];
  outShape[axis] = bins;
  outShape[r - 1] = 2;
  // dft_length comes from the data: the output and the transform's work arrays are sized by it
  checkTensorShape('float64', outShape, `DFT of length ${n}`);
  checkAllocation(n, 64, `DFT of length ${n}: its work arrays`);
  const out = new Float64Array(shapeSize(outShape));
  const plan = fftPlan(n);
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  const used = Math.min(L, n);
  const scale = inverse ? 1 / n : 1;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      re.fill(0);
      im.fill(0);
      for (let t = 0; t < used; t++) {
        const at = ((o * L + t) * inner + i) * c;
        re[t] = xd[at]!;
        if (c === 2) im[t] = xd[at + 1]!;
      }
      plan.run(re, im, inverse);
      for (let k = 0; k < bins; k++) {
        const to = ((o * bins + k) * inner + i) * 2;
        out[to] = re[k]! * scale;
        out[to + 1] = im[k]! * scale;
      }
    }
  }
  return tensorFromNumbers(x.dtype, outShape, out);
}

/** [batch, length, 1|2] -> [batch, frames, bins, 2]: windowed transforms of frames `step` apart. */
export function stft(x: Tensor, step: number, window: ArrayLike<number> | undefined, frameLength: number, onesided: boolean): Tensor {
  if (x.rank !== 3 || (x.shape[2] !== 1 && x.shape[2] !== 2)) throw new ShapeError(`STFT signal must be [batch, length, 1 or 2], got [${x.shape.join(', ')}]`);
  const [B, L, c] = x.shape as [number, number, number];
  if (!Number.isInteger(step) || step < 1) throw new ShapeError(`STFT frame_step must be positive, got ${step}`);
  if (frameLength < 1 || frameLength > L) throw new ShapeError(`STFT frame_length ${frameLength} must be in [1, ${L}] (the signal length)`);
  if (window && window.length !== frameLength) throw new ShapeError(`STFT window has ${window.length} points, frame_length is ${frameLength}`);
  const xd = floatValues(x, 'STFT signal');
  const frames = 1 + Math.floor((L - frameLength) / step);
  const bins = spectrumBins(frameLength, onesided);
  checkTensorShape('float64', [B, frames, bins, 2], 'STFT output');
  checkAllocation(frameLength, 64, `STFT of frame_length ${frameLength}: its work arrays`);
  const out = new Float64Array(B * frames * bins * 2);
  const plan = fftPlan(frameLength);
  const re = new Float64Array(frameLength);
  const im = new Float64Array(frameLength);
  for (let b = 0; b < B; b++) {
    for (let f = 0; f < frames; f++) {
      for (let t = 0; t < frameLength; t++) {
        const at = (b * L + f * step + t) * c;
        const w = window ? window[t]! : 1;
        re[t] = xd[at]! * w;
        im[t] = c === 2 ? xd[at + 1]! * w : 0;
      }
      plan.run(re, im, false);
      const base = (b * frames + f) * bins * 2;
      for (let k = 0; k < bins; k++) {
        out[base + 2 * k] = re[k]!;
        out[base + 2 * k + 1] = im[k]!;
      }
    }
  }
  return tensorFromNumbers(x.dtype, [B, frames, bins, 2], out);
}

const hzToMel = (hz: number): number => 2595 * Math.log10(1 + hz / 700);
const melToHz = (mel: number): number => 700 * (10 ** (mel / 2595) - 1);

/**
 * [floor(dftLength/2)+1, numMelBins] triangles with peak 1, as ONNX defines them: numMelBins + 2
 * points equally spaced on the mel scale (the step divides by numMelBins + 2), each snapped down
 * to the spectrum bin floor((dftLength + 1) * hz / sampleRate).
 */
export function melWeightMatrix(numMelBins: number, dftLength: number, sampleRate: number, lowerHz: number, upperHz: number): Float64Array {
  if (numMelBins < 0 || dftLength < 1 || sampleRate < 1) throw new ShapeError(`MelWeightMatrix needs num_mel_bins >= 0, dft_length >= 1 and sample_rate >= 1, got ${numMelBins}, ${dftLength}, ${sampleRate}`);
  const nspec = Math.floor(dftLength / 2) + 1;
  checkTensorShape('float64', [nspec, numMelBins + 2], `MelWeightMatrix of ${numMelBins} bins over a ${dftLength}-point DFT`);
  const lowMel = hzToMel(lowerHz);
  const melStep = (hzToMel(upperHz) - lowMel) / (numMelBins + 2);
  const points = Array.from({ length: numMelBins + 2 }, (_, i) => Math.floor(((dftLength + 1) * melToHz(i * melStep + lowMel)) / sampleRate));
  const bad = points.find((p) => !(p >= 0 && p < nspec));
  if (bad !== undefined) {
    throw new ShapeError(`MelWeightMatrix: the band edges ${lowerHz}..${upperHz} Hz fall on spectrum bin ${bad}, outside [0, ${nspec}) of a ${dftLength}-point DFT at ${sampleRate} Hz`);
  }
  const out = new Float64Array(nspec * numMelBins);
  for (let i = 0; i < numMelBins; i++) {
    const [lo, center, hi] = [points[i]!, points[i + 1]!, points[i + 2]!];
    if (center === lo) out[center * numMelBins + i] = 1;
    else for (let j = lo; j <= center; j++) out[j * numMelBins + i] = (j - lo) / (center - lo);
    for (let j = center; j < hi; j++) out[j * numMelBins + i] = (hi - j) / (hi - center);
  }
  return out;
}

export const signalOps: OpTable = {
  HannWindow: cosineWindow(signalDefs.HannWindow, 0.5, 0.5, 0),
  HammingWindow: cosineWindow(signalDefs.HammingWindow, 25 / 46, 21 / 46, 0),
  BlackmanWindow: cosineWindow(signalDefs.BlackmanWindow, 0.42, 0.5, 0.08),
  DFT: defineOp<DftAttrs>({
    attrs: signalDefs.DFT.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'input');
      if (x.rank < 2) throw new ShapeError(`DFT input must have rank >= 2 ([..., signal, 1 or 2]), got [${x.shape.join(', ')}]`);
      const axis = dftAxis(a.axis ?? (inputs[2] ? intScalar(inputs[2], 'DFT axis') : -2), x.rank);
      const n = inputs[1] ? intScalar(inputs[1], 'DFT dft_length') : x.shape[axis]!;
      return [dft(x, axis, n, a.inverse, a.onesided)];
    },
  }),
  STFT: defineOp<StftAttrs>({
    attrs: signalDefs.STFT.attrs,
    run: (inputs, a) => {
      const x = need(inputs, 0, 'signal');
      const step = intScalar(need(inputs, 1, 'frame_step'), 'STFT frame_step');
      const w = inputs[2];
      if (w && w.rank !== 1) throw new ShapeError(`STFT window must be 1-D, got [${w.shape.join(', ')}]`);
      const frameLength = inputs[3] ? intScalar(inputs[3], 'STFT frame_length') : w ? w.size : x.shape[1] ?? 0;
      return [stft(x, step, w && floatValues(w, 'STFT window'), frameLength, a.onesided)];
    },
  }),
  MelWeightMatrix: defineOp<MelWeightMatrixAttrs>({
    attrs: signalDefs.MelWeightMatrix.attrs,
    run: (inputs, a) => {
      const [bins, dftLength, rate] = ['num_mel_bins', 'dft_length', 'sample_rate'].map((what, i) => intScalar(need(inputs, i, what), `MelWeightMatrix ${what}`)) as [number, number, number];
      const [lo, hi] = ['lower_edge_hertz', 'upper_edge_hertz'].map((what, i) => readScalar(need(inputs, i + 3, what), `MelWeightMatrix ${what}`)) as [number, number];
      return [tensorFromNumbers(a.dtype, [Math.floor(dftLength / 2) + 1, bins], melWeightMatrix(bins, dftLength, rate, lo, hi))];
    },
  }),
};

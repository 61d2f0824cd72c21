// GraphDef writer rows for ONNX's spectral ops over a signal of known length: DFT (and STFT with
// constant frame step / length / window) as products with constant cosine / sine matrices —
// TF's FFT ops take complex tensors, which a float GraphDef (and TF.js' executor reading it)
// does not carry. For N points, C[n, k] = cos(2πnk/N), S[n, k] = sin(2πnk/N):
// forward Yr = Xr C + Xi S, Yi = Xi C - Xr S; inverse Yr = (Xr C - Xi S) / N, Yi = (Xi C + Xr S) / N;
// onesided keeps k <= N/2. The real / imaginary parts are the last axis (1 or 2) in and (2) out.
import { UnsupportedError } from '../../ir/errors.js';
import { attrInt, type Node } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { T, type GraphDefWriter, type Row } from './write-context.js';

const F32 = { T: T('float32') };

/** The (N, K) cosine and sine matrices of an N-point DFT keeping K bins, scaled by `scale`. */
function dftMatrices(n: number, k: number, scale: number): [Float32Array, Float32Array] {
  const c = new Float32Array(n * k);
  const s = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      // (i j mod n keeps the angle small: exact at the quarter turns)
      const a = (2 * Math.PI * ((i * j) % n)) / n;
      c[i * k + j] = Math.cos(a) * scale;
      s[i * k + j] = Math.sin(a) * scale;
    }
  }
  return [c, s];
}

/**
 * The DFT over the last axis of the real / imaginary parts `re`, `im` (im undefined: a real
 * signal) of rank `rank`, N points, K bins: [Yr, Yi], each of rank `rank`.
 */
function dftLast(w: GraphDefWriter, base: string, re: string, im: string | undefined, rank: number, n: number, k: number, inverse: boolean, window?: Float32Array): [string, string] {
  const scale = inverse ? 1 / n : 1;
  const [c, s] = dftMatrices(n, k, scale);
  // a window multiplies each signal point: folded into the rows of the matrices
  if (window) for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) (c[i * k + j]! *= window[i]!), (s[i * k + j]! *= window[i]!);
  const C = w.const(`${base}/cos`, new Tensor('float32', [n, k], c));
  const S = w.const(`${base}/sin`, new Tensor('float32', [n, k], s));
  const mm = (tag: string, a: string, b: string) => w.add(w.fresh(`${base}/${tag}`), rank === 2 ? 'MatMul' : 'BatchMatMulV2', [a, b], rank === 2 ? { ...F32, transpose_a: { b: false }, transpose_b: { b: false } } : { ...F32, adj_x: { b: false }, adj_y: { b: false } });
  const rc = mm('re_cos', re, C);
  const rs = mm('re_sin', re, S);
  if (!im) {
    // Yr = Xr C, Yi = -Xr S (inverse: +Xr S)
    return [rc, inverse ? rs : w.add(w.fresh(`${base}/im`), 'Neg', [rs], F32)];
  }
  const ic = mm('im_cos', im, C);
  const is = mm('im_sin', im, S);
  const yr = w.add(w.fresh(`${base}/re`), inverse ? 'Sub' : 'AddV2', [rc, is], F32);
  const yi = w.add(w.fresh(`${base}/im`), inverse ? 'AddV2' : 'Sub', [ic, rs], F32);
  return [yr, yi];
}

/** The last axis' component `k` (0: real, 1: imaginary) of `x`. */
const part = (w: GraphDefWriter, base: string, x: string, rank: number, k: number): string =>
  w.add(w.fresh(`${base}/${k ? 'imaginary' : 'real'}`), 'GatherV2', [x, w.int32(`${base}/part_${k}`, [k], true), w.int32(`${base}/part_axis_${k}`, [rank - 1], true)], { Tparams: T('float32'), Tindices: T('int32'), Taxis: T('int32'), batch_dims: { i: 0 } });

/** [Yr, Yi] joined on a new last axis, as `out`. */
function joinParts(w: GraphDefWriter, base: string, out: string, yr: string, yi: string, rank: number): void {
  const ex = (v: string, tag: string) => w.add(w.fresh(`${base}/${tag}_part`), 'ExpandDims', [v, w.int32(`${base}/${tag}_part_axis`, [rank], true)], { ...F32, Tdim: T('int32') });
  w.add(out, 'ConcatV2', [ex(yr, 're'), ex(yi, 'im'), w.int32(`${base}/parts_axis`, [rank], true)], { ...F32, N: { i: 2 }, Tidx: T('int32') });
}

function dft(w: GraphDefWriter, n: Node, out: string): void {
  const [x, len] = n.inputs as [string, string | undefined];
  const where = `node '${n.name}'`;
  const shape = w.shape(x);
  if (!shape || shape.length < 3) throw new UnsupportedError('DFT of a value of unknown rank in a GraphDef', where);
  if (w.dtype(x) !== 'float32') throw new UnsupportedError(`DFT of ${w.dtype(x)} in a GraphDef`, where);
  const r = shape.length;
  const complex = shape[r - 1];
  if (complex !== 1 && complex !== 2) throw new UnsupportedError('DFT of a value whose last dim is not 1 (real) or 2 (complex)', where);
  let axis = attrInt(n, 'axis', 1);
  if (axis < 0) axis += r;
  if (axis < 1 || axis > r - 2) throw new UnsupportedError(`DFT over axis ${attrInt(n, 'axis', 1)} of a rank-${r} signal`, where);
  const size = shape[axis];
  const given = len ? w.g.initializers.get(len) : undefined;
  if (len && !given) throw new UnsupportedError('DFT with a dft_length computed at run time in a GraphDef', where);
  if (typeof size !== 'number') throw new UnsupportedError('DFT over an axis of unknown size in a GraphDef', where);
  const points = given ? given.toNumbers()[0]! : size;
  const inverse = attrInt(n, 'inverse', 0) === 1;
  const onesided = attrInt(n, 'onesided', 0) === 1;
  if (onesided && (inverse || complex === 2)) throw new UnsupportedError('DFT onesided of a complex signal or inverse', where);
  const bins = onesided ? Math.floor(points / 2) + 1 : points;
  const rank = r - 1;
  // the signal axis last: a Transpose there and back when it is another
  const perm = Array.from({ length: rank }, (_, i) => (i === axis ? rank - 1 : i === rank - 1 ? axis : i));
  const moved = axis !== rank - 1;
  const fit = (v: string, tag: string): string => {
    let y = moved ? w.add(w.fresh(`${n.name}/${tag}_last`), 'Transpose', [v, w.int32(`${n.name}/perm`, perm)], { ...F32, Tperm: T('int32') }) : v;
    // dft_length: the signal cut to it, or zero-padded
    if (points < size) y = w.add(w.fresh(`${n.name}/${tag}_cut`), 'Slice', [y, w.int32(`${n.name}/${tag}_cut_begin`, new Array<number>(rank).fill(0)), w.int32(`${n.name}/${tag}_cut_size`, [...new Array<number>(rank - 1).fill(-1), points])], { ...F32, Index: T('int32') });
    if (points > size) y = w.add(w.fresh(`${n.name}/${tag}_padded`), 'Pad', [y, w.paddings(`${n.name}/${tag}_pads`, [...new Array<number>(2 * (rank - 1)).fill(0), 0, points - size])], { ...F32, Tpaddings: T('int32') });
    return y;
  };
  const re = fit(part(w, n.name, w.ref(x), r, 0), 're');
  const im = complex === 2 ? fit(part(w, n.name, w.ref(x), r, 1), 'im') : undefined;
  let [yr, yi] = dftLast(w, n.name, re, im, rank, points, bins, inverse);
  if (moved) {
    yr = w.add(w.fresh(`${n.name}/re_back`), 'Transpose', [yr, w.int32(`${n.name}/perm_back`, perm)], { ...F32, Tperm: T('int32') });
    yi = w.add(w.fresh(`${n.name}/im_back`), 'Transpose', [yi, w.int32(`${n.name}/perm_back_im`, perm)], { ...F32, Tperm: T('int32') });
  }
  joinParts(w, n.name, out, yr, yi, rank);
}

/**
 * STFT with a constant frame step, frame length and window over a real signal of known length
 * (batch, L, 1): the frames are a GatherV2 of constant positions, (batch, frames, length), each
 * windowed and transformed (the window folded into the DFT matrices); onesided keeps length/2 + 1 bins.
 */
function stft(w: GraphDefWriter, n: Node, out: string): void {
  const [signal, stepIn, windowIn, lengthIn] = n.inputs as [string, string, string | undefined, string | undefined];
  const where = `node '${n.name}'`;
  const shape = w.shape(signal);
  const c = (v: string | undefined) => (v ? w.g.initializers.get(v) : undefined);
  const step = c(stepIn)?.toNumbers()[0];
  const window = windowIn ? c(windowIn) : undefined;
  const lengthGiven = lengthIn ? c(lengthIn)?.toNumbers()[0] : undefined;
  if (step === undefined || (windowIn && !window) || (lengthIn && lengthGiven === undefined)) throw new UnsupportedError('STFT with a frame step, window or frame length computed at run time in a GraphDef', where);
  if (!shape || shape.length !== 3 || typeof shape[1] !== 'number' || w.dtype(signal) !== 'float32') throw new UnsupportedError('STFT of a signal of unknown length or not float32 in a GraphDef', where);
  if (shape[2] !== 1) throw new UnsupportedError('STFT of a complex signal in a GraphDef', where);
  const length = lengthGiven ?? window?.size;
  if (!length || (window && window.size !== length)) throw new UnsupportedError('STFT with neither a frame length nor a window, or the two of other sizes', where);
  const onesided = attrInt(n, 'onesided', 1) === 1;
  const total = shape[1];
  const frames = Math.floor((total - length) / step) + 1;
  if (frames < 1) throw new UnsupportedError(`STFT of a signal of ${total} points shorter than its frame (${length})`, where);
  const idx = new Int32Array(frames * length);
  for (let f = 0; f < frames; f++) for (let i = 0; i < length; i++) idx[f * length + i] = f * step + i;
  const re = part(w, n.name, w.ref(signal), 3, 0);
  const framed = w.add(w.fresh(`${n.name}/frames`), 'GatherV2', [re, w.const(`${n.name}/frame_positions`, new Tensor('int32', [frames, length], idx)), w.int32(`${n.name}/time_axis`, [1], true)], { Tparams: T('float32'), Tindices: T('int32'), Taxis: T('int32'), batch_dims: { i: 0 } });
  const bins = onesided ? Math.floor(length / 2) + 1 : length;
  const [yr, yi] = dftLast(w, n.name, framed, undefined, 3, length, bins, false, window?.toFloat32());
  joinParts(w, n.name, out, yr, yi, 3);
}

export const spectralRows: Record<string, Row> = {
  DFT: dft,
  STFT: stft,
};

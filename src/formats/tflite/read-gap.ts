// TFLite builtins the writer uses for ops TFLite has no builtin of its own for (ops-gap-write.ts),
// read back as the ONNX ops they compute:
//   REVERSE_SEQUENCE  ReverseSequence (ONNX takes batch / time axes 0 and 1 only: others refused)
//   SCATTER_ND        ScatterND with reduction 'add' onto zeros of the shape: TFLite's kernel
//                     writes the updates into zeros and sums the ones at a repeated index
//   ATAN2             Atan(y / x), plus pi (the sign of y's) where x < 0, sign(y) pi / 2 where x = 0
//   UNIQUE            Unique (sorted 0: first-occurrence order), its inverse_indices as the positions
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';
import { BuiltinOptions } from '../generated/tflite/builtin-options.js';
import { ReverseSequenceOptions } from '../generated/tflite/reverse-sequence-options.js';
import { sameQuant, type OpContext } from './read.js';
import { fin, finish, floatOut, int, moveData, options, outName, outTensor, str, tensor, type Converter } from './ops.js';

/** Input i as int64 (ONNX's index type): a constant converted once (its shape kept), or a Cast. */
function int64Of(c: OpContext, i: number): string {
  const t = tensor(c, i);
  if (t.dtype === 'int64') return t.name;
  if (t.data) return c.b.constant(Tensor.int64([...t.data.shape], t.data.toNumbers()), `${t.name}_int64`);
  const y = c.b.fresh(`${t.name}_int64`);
  c.b.node('Cast', [t.name], [y], { to: int(7) });
  return y;
}

const reverseSequence: Converter = (c) => {
  const o = options(c, BuiltinOptions.ReverseSequenceOptions, () => new ReverseSequenceOptions());
  const rank = tensor(c, 0).shape.length;
  const norm = (a: number) => (a < 0 ? a + rank : a);
  const time = norm(o?.seqDim() ?? 0);
  const batch = norm(o?.batchDim() ?? 0);
  if (time > 1 || batch > 1 || time === batch) throw new UnsupportedError(`TFLite REVERSE_SEQUENCE with seq_dim ${time} and batch_dim ${batch}`, `'${outName(c)}': ONNX's ReverseSequence takes the batch and time axes 0 and 1`);
  const lens = int64Of(c, 1);
  moveData(c, (x, y) => c.b.node('ReverseSequence', [x, lens], [y], { time_axis: int(time), batch_axis: int(batch) }));
};

const scatterNd: Converter = (c) => {
  const updates = tensor(c, 1);
  const y = floatOut(c, 0);
  const u = fin(c, 1);
  const dtype = updates.quant ? 'float32' : updates.dtype;
  const zeros = c.b.fresh(`${outName(c)}_zeros`);
  c.b.node('ConstantOfShape', [int64Of(c, 2)], [zeros], { value: { type: 'tensor', value: Tensor.zeros(dtype, [1]) } });
  c.b.node('ScatterND', [zeros, int64Of(c, 0), u], [y], { reduction: str('add') });
  finish(c, 0, y);
};

const atan2: Converter = (c) => {
  const yv = fin(c, 0);
  const xv = fin(c, 1);
  const out = floatOut(c, 0);
  const t = (tag: string) => c.b.fresh(`${outName(c)}_${tag}`);
  const node = (op: string, inputs: string[], tag: string) => {
    const v = t(tag);
    c.b.node(op, inputs, [v]);
    return v;
  };
  const a = node('Atan', [node('Div', [yv, xv], 'ratio')], 'atan');
  const pi = node('Where', [node('Less', [yv, c.b.float(0, 'zero')], 'y_negative'), c.b.float(-Math.PI, 'minus_pi'), c.b.float(Math.PI, 'pi')], 'pi_signed');
  const left = node('Where', [node('Less', [xv, c.b.float(0, 'zero')], 'x_negative'), node('Add', [a, pi], 'shifted'), a], 'quadrant');
  const axis = node('Mul', [node('Sign', [yv], 'y_sign'), c.b.float(Math.PI / 2, 'half_pi')], 'on_axis');
  c.b.node('Where', [node('Equal', [xv, c.b.float(0, 'zero')], 'x_zero'), axis, left], [out]);
  finish(c, 0, out);
};

/** UNIQUE: the values in order of first occurrence (ONNX Unique, sorted 0) and each element's position among them (its inverse_indices, int64, cast to the file's index type). */
const unique: Converter = (c) => {
  const x = tensor(c, 0);
  if (x.shape.length !== 1) throw new FormatError(`UNIQUE '${outName(c)}': input '${x.name}' of shape [${x.shape.join(', ')}], the kernel takes a vector`, { file: c.b.file });
  const idx = outTensor(c, 1);
  if (idx.dtype !== 'int32' && idx.dtype !== 'int64') throw new FormatError(`UNIQUE '${outName(c)}': index output '${idx.name}' is ${idx.dtype}, the kernel writes int32 or int64`, { file: c.b.file });
  const y = outTensor(c, 0);
  if (!sameQuant(x, y)) throw new UnsupportedError('TFLite UNIQUE with other quantization on its output than its input', `'${y.name}' in ${c.b.file}`);
  const inverse = idx.dtype === 'int64' ? idx.name : c.b.fresh(`${idx.name}_int64`);
  c.b.node('Unique', [x.name], [y.name, '', inverse], { sorted: int(0) });
  if (inverse !== idx.name) c.b.node('Cast', [inverse], [idx.name], { to: int(6) });
};

export const TFLITE_READ_GAP_OPS: Record<string, Converter> = {
  UNIQUE: unique,
  REVERSE_SEQUENCE: reverseSequence,
  SCATTER_ND: scatterNd,
  ATAN2: atan2,
};

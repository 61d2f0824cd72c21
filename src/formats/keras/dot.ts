// Keras' Dot layer (what nnport's Keras writer writes a MatMul of two computed values as, an
// Einsum's products among them: src/passes/lower-einsum.ts) -> IR. Dot is Keras' batch_dot: the
// batch axis kept, one axis of each input summed against the other's. Read for rank-3 inputs
// (any pair of axes 1 / 2: a MatMul, a side transposed where its summed axis is not the one
// MatMul sums) and rank-2 inputs (a row-wise inner product, [batch, 1]); `normalize` (cosine
// proximity) and other ranks are refused by name.
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';
import { int, ints, type IrEmitter, type KValue, type LayerCall } from './layers.js';

export function dotLayer(e: IrEmitter, call: LayerCall): KValue[] {
  if (call.inputs.length !== 2) throw new FormatError(`layer '${call.name}' (Dot) takes two inputs, got ${call.inputs.length}`);
  const [x, y] = call.inputs as [KValue, KValue];
  const where = `layer '${call.name}'`;
  if (call.config.normalize === true) throw new UnsupportedError('Keras Dot with normalize=True', where);
  const given = call.config.axes;
  const pair = typeof given === 'number' ? [given, given] : Array.isArray(given) && given.length === 2 && given.every((a) => typeof a === 'number') ? (given as number[]) : undefined;
  if (!pair) throw new FormatError(`${where} (Dot): cannot read axes ${JSON.stringify(given)}`);
  const r = x.shape.length;
  if (y.shape.length !== r || (r !== 2 && r !== 3)) throw new UnsupportedError(`Keras Dot of rank-${x.shape.length} and rank-${y.shape.length} inputs`, `${where}: nnport reads Dot of two rank-2 or two rank-3 inputs`);
  const [ax, ay] = pair.map((a) => (a < 0 ? a + r : a)) as [number, number];
  if (ax < 1 || ax >= r || ay < 1 || ay >= r) throw new FormatError(`${where} (Dot): axes [${pair.join(', ')}] outside 1..${r - 1} of rank-${r} inputs`);
  if (r === 2) {
    const prod = e.node('Mul', [x.name, y.name], [`${call.name}/product`], {}, '', `${call.name}/product`)[0]!;
    const axes = e.constant(`${call.name}/axes`, Tensor.int64([1], [1]));
    return [{ name: e.node('ReduceSum', [prod, axes], [call.name], { keepdims: int(1) }, '', call.name)[0]!, shape: [x.shape[0] ?? y.shape[0] ?? null, 1] }];
  }
  // x as [b, M, K] (K its summed axis), y as [b, K, N]
  const swap = (v: KValue, side: string): string => e.node('Transpose', [v.name], [`${call.name}/${side}_t`], { perm: ints([0, 2, 1]) }, '', `${call.name}/${side}_t`)[0]!;
  const left = ax === 2 ? x.name : swap(x, 'lhs');
  const right = ay === 1 ? y.name : swap(y, 'rhs');
  const M = x.shape[ax === 2 ? 1 : 2] ?? null;
  const N = y.shape[ay === 1 ? 2 : 1] ?? null;
  return [{ name: e.node('MatMul', [left, right], [call.name], {}, '', call.name)[0]!, shape: [x.shape[0] ?? y.shape[0] ?? null, M, N] }];
}

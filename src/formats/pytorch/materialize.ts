// From unpickled objects to nnport tensors and a WeightsModel: storage windows become typed
// views (no copy when contiguous and aligned), nested checkpoints become container paths.
import { allocArray, DTYPES, viewAs, type TensorData } from '../../ir/dtypes.js';
import { ReadBudget } from '../../ir/budget.js';
import { FormatError, UsageError } from '../../ir/errors.js';
import { shapeSize, Tensor } from '../../ir/tensor.js';
import type { FormatId, WeightsModel } from '../model.js';
import { PyDict, PyTuple, pyText } from './pickle.js';
import { PendingTensor, type StorageRef } from './torch-globals.js';

/** Bytes of a storage, checked against what the pickle claimed. */
export type StorageBytes = (ref: StorageRef) => Uint8Array;

/** Build a Tensor for a storage window; non-contiguous strides are gathered into a new C-ordered array. */
export function materializeTensor(p: PendingTensor, storageBytes: Uint8Array, file: string, name: string, budget?: ReadBudget): Tensor {
  const es = DTYPES[p.dtype].bytes;
  const storageNumel = Math.floor(storageBytes.byteLength / es);
  let numel = 1;
  for (const d of p.shape) numel *= d;
  if (numel === 0) return new Tensor(p.dtype, p.shape, allocArray(p.dtype, 0));
  let last = p.offset;
  for (let i = 0; i < p.shape.length; i++) last += (p.shape[i]! - 1) * p.stride[i]!;
  if (last >= storageNumel) {
    throw new FormatError(
      `tensor '${name}' [${p.shape.join(', ')}] reaches element ${last} of storage '${p.storage.key}', which has ${storageNumel} ${p.dtype} elements`,
      { file },
    );
  }
  checkExpansion(p, storageBytes.byteLength, file, name);
  if (isContiguous(p.shape, p.stride)) {
    const data = viewAs(p.dtype, storageBytes.subarray(p.offset * es, (p.offset + numel) * es), numel);
    return new Tensor(p.dtype, p.shape, data as TensorData);
  }
  budget?.take(numel * es, `tensor '${name}' [${p.shape.join(', ')}] gathered from a strided view`);
  const out = new Uint8Array(numel * es);
  gather(storageBytes, out, es, p.offset, p.shape, p.stride);
  return new Tensor(p.dtype, p.shape, viewAs(p.dtype, out, numel) as TensorData);
}

/** Only stride-0 (expanded) tensors can be larger than their storage; cap what they may claim. */
function checkExpansion(p: PendingTensor, storageBytes: number, file: string, name: string): void {
  const bytes = shapeSize(p.shape) * DTYPES[p.dtype].bytes;
  if (bytes > Math.max(storageBytes * 64, 1 << 28)) {
    throw new FormatError(`tensor '${name}' [${p.shape.join(', ')}] would expand ${storageBytes} bytes of storage into ${bytes} bytes`, { file });
  }
}

/** Bytes materializeTensor copies for a view (0 when it is a plain window of its storage). */
function gatheredBytes(p: PendingTensor): number {
  const numel = shapeSize(p.shape);
  return numel === 0 || isContiguous(p.shape, p.stride) ? 0 : numel * DTYPES[p.dtype].bytes;
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/** Copy a strided window into C order, innermost dimension as one run where it is contiguous. */
function gather(src: Uint8Array, dst: Uint8Array, es: number, offset: number, shape: readonly number[], stride: readonly number[]): void {
  const rank = shape.length;
  const inner = shape[rank - 1]!;
  const innerStride = stride[rank - 1]!;
  const idx = new Array<number>(rank - 1).fill(0);
  const outer = shapeSize(shape.slice(0, -1));
  let o = 0;
  for (let r = 0; r < outer; r++) {
    let base = offset;
    for (let i = 0; i < rank - 1; i++) base += idx[i]! * stride[i]!;
    if (innerStride === 1) {
      dst.set(src.subarray(base * es, (base + inner) * es), o);
      o += inner * es;
    } else {
      for (let j = 0; j < inner; j++) {
        const s = (base + j * innerStride) * es;
        for (let b = 0; b < es; b++) dst[o++] = src[s + b]!;
      }
    }
    for (let i = rank - 2; i >= 0; i--) {
      if (++idx[i]! < shape[i]!) break;
      idx[i] = 0;
    }
  }
}

const PREFERRED_CONTAINERS = ['state_dict', 'model_state_dict', 'model', 'model_state', 'net', 'network', 'module', 'ema', 'params', 'weights'];
const MAX_DEPTH = 64;
const MAX_SCALARS = 1000;
/** Shared sub-lists can make a small pickle a huge tree (a "billion laughs"); cap the walk. */
const MAX_VISITS = 2_000_000;

/**
 * Walk an unpickled checkpoint: every tensor gets its dotted path, containers are the paths
 * that directly hold tensors, and one is selected (`key`, or the most likely state dict).
 */
export function toWeightsModel(root: unknown, format: FormatId, storageBytes: StorageBytes, file: string, key?: string, fileSize = 0, budget = new ReadBudget(file, fileSize)): WeightsModel {
  // [container path, key inside it, tensor]: a state dict's keys contain dots themselves, so the
  // container (the dict nesting) is tracked apart from the key.
  const pending: [string, string, PendingTensor][] = [];
  const containers: string[] = [];
  const containerSet = new Set<string>();
  const scalars: Record<string, string> = {};
  let scalarCount = 0;
  const built = new Map<PendingTensor, Tensor>();
  const onPath = new Set<unknown>();
  const join = (a: string, b: string): string => (a ? `${a}.${b}` : b);

  let visits = 0;
  const visit = (v: unknown, container: string, key: string, depth: number): void => {
    if (++visits > MAX_VISITS) throw new FormatError(`checkpoint references its containers more than ${MAX_VISITS} times (a pickle bomb?)`, { file });
    const path = join(container, key);
    if (depth > MAX_DEPTH) throw new FormatError(`checkpoint nests deeper than ${MAX_DEPTH} levels at '${path}'`, { file });
    if (v instanceof PendingTensor) {
      pending.push([container, key, v]);
      if (!containerSet.has(container)) {
        containerSet.add(container);
        containers.push(container);
      }
      return;
    }
    let children: [string, unknown][] | undefined;
    if (v instanceof PyDict) children = [...v.map].map(([k, x]) => [typeof k === 'string' ? k : pyText(k), x]);
    else if (Array.isArray(v)) children = v.map((x, i) => [String(i), x]);
    else if (v instanceof PyTuple) children = v.items.map((x, i) => [String(i), x]);
    if (children) {
      if (onPath.has(v)) return; // a pickle can make a list contain itself
      onPath.add(v);
      for (const [k, x] of children) visit(x, path, k, depth + 1);
      onPath.delete(v);
      return;
    }
    if (scalarCount < MAX_SCALARS && path) {
      scalarCount++;
      // pyText, not String(): a huge pickled int would take seconds to print in decimal
      scalars[path] = pyText(v, 200);
    }
  };
  if (root instanceof PendingTensor) visit(root, '', 'tensor', 0); // torch.save(tensor)
  else visit(root, '', '', 0);

  // Copies of strided / stride-0 views are bounded in total, not only per tensor, and checked
  // for all of them before the first is made: 24 stride-0 views of 256 MiB each are refused
  // without gathering any.
  let gathered = 0;
  let views = 0;
  let largest: [string, PendingTensor, number] | undefined;
  const counted = new Set<PendingTensor>();
  for (const [c, k, p] of pending) {
    if (counted.has(p)) continue;
    counted.add(p);
    const n = gatheredBytes(p);
    if (!n) continue;
    // the claimed storage size here; materializeTensor checks again against the real bytes
    checkExpansion(p, (p.storage.view ? p.storage.view.size : p.storage.numel) * (p.storage.dtype ? DTYPES[p.storage.dtype].bytes : 1), file, join(c, k));
    gathered += n;
    views++;
    if (!largest || n > largest[2]) largest = [join(c, k), p, n];
  }
  if (largest) budget.take(gathered, `${views} tensor${views > 1 ? 's' : ''} gathered from strided views (the largest, '${largest[0]}' [${largest[1].shape.join(', ')}], ${largest[2]} bytes)`);
  const all: [string, string, Tensor][] = [];
  for (const [c, k, p] of pending) {
    let t = built.get(p);
    if (!t) {
      t = materializeTensor(p, storageBytes(p.storage), file, join(c, k));
      built.set(p, t);
    }
    all.push([c, k, t]);
  }

  const under = (c: string, sel: string): boolean => sel === '' || c === sel || c.startsWith(`${sel}.`);
  let selected: string;
  if (key !== undefined) {
    const k = key.replace(/^\.+|\.+$/g, '');
    if (!all.some(([c]) => under(c, k))) {
      throw new UsageError(`'${file}' has no tensors under '${key}'; its containers are: ${containers.map((c) => c || '(root)').join(', ')}`);
    }
    selected = k;
  } else if (containerSet.has('') || all.length === 0) {
    selected = '';
  } else {
    const tops = new Set(all.map(([c]) => c.split('.')[0]!));
    selected = PREFERRED_CONTAINERS.find((c) => tops.has(c)) ?? (tops.size === 1 ? [...tops][0]! : '');
  }
  const tensors = new Map<string, Tensor>();
  for (const [c, k, t] of all) {
    if (!under(c, selected)) continue;
    const full = join(c, k);
    tensors.set(selected ? full.slice(selected.length + 1) : full, t);
  }
  return { kind: 'weights', format, tensors, containers, selected, scalars };
}

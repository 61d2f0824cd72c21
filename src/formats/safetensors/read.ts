// safetensors: [u64 header size][JSON header][data]. Tensors are views over the data (no copy
// when aligned). Every offset is checked: inside the data, matching dtype x shape, no overlaps.
import { DTYPES, viewAs, type TensorData } from '../../ir/dtypes.js';
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { Tensor } from '../../ir/tensor.js';
import type { WeightsModel } from '../model.js';
import { SAFETENSORS_TO_DTYPE } from './dtypes.js';

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

const MAX_HEADER = 100_000_000; // the reference implementation's limit

export function readSafetensors(bytes: Uint8Array, fileName = '<safetensors>'): SafetensorsFile {
  const file = fileName;
  if (bytes.byteLength < 8) throw new FormatError('not a safetensors file: shorter than its 8-byte header size', { file });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(Math.min(MAX_HEADER, bytes.byteLength - 8))) {
    throw new FormatError(`safetensors header claims ${n64} bytes; the file has ${bytes.byteLength - 8} after the size`, { file, offset: 0 });
  }
  const n = Number(n64);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new FormatError(`safetensors header is not valid JSON: ${(e as Error).message}`, { file, offset: 8 }, { cause: e });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new FormatError('safetensors header is not a JSON object', { file, offset: 8 });
  const data = bytes.subarray(8 + n);
  const metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  const tensors = new Map<string, Tensor>();
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null) throw new FormatError('safetensors __metadata__ is not an object', { file });
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') throw new FormatError(`safetensors __metadata__['${k}'] is not a string`, { file });
        metadata[k] = v;
      }
      continue;
    }
    const o = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof o !== 'object' || o === null || typeof o.dtype !== 'string' || !Array.isArray(o.shape) || !Array.isArray(o.data_offsets) || o.data_offsets.length !== 2) {
      throw new FormatError(`safetensors entry '${name}' needs dtype, shape and data_offsets`, { file });
    }
    // own keys only: a dtype named "constructor" must not find Object.prototype's
    const dtype = Object.hasOwn(SAFETENSORS_TO_DTYPE, o.dtype) ? SAFETENSORS_TO_DTYPE[o.dtype] : undefined;
    if (!dtype) throw new UnsupportedError(`safetensors dtype ${o.dtype}`, `tensor '${name}' in '${file}'`);
    const shape = o.shape as unknown[];
    let numel = 1;
    for (const d of shape) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw new FormatError(`safetensors entry '${name}' has a bad shape ${JSON.stringify(shape)}`, { file });
      numel *= d;
    }
    const [b, e] = o.data_offsets as unknown[];
    if (typeof b !== 'number' || typeof e !== 'number' || !Number.isSafeInteger(b) || !Number.isSafeInteger(e) || b < 0 || e < b || e > data.byteLength) {
      throw new FormatError(`safetensors entry '${name}' has offsets ${JSON.stringify(o.data_offsets)} outside the ${data.byteLength}-byte data`, { file });
    }
    const es = DTYPES[dtype].bytes;
    if (e - b !== numel * es) throw new FormatError(`safetensors entry '${name}': ${e - b} bytes for ${numel} ${dtype} elements (need ${numel * es})`, { file });
    ranges.push([b, e, name]);
    tensors.set(name, new Tensor(dtype, shape as number[], viewAs(dtype, data.subarray(b, e), numel) as TensorData));
  }
  // The spec: the data is fully covered by the tensors, without overlaps or holes.
  ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let end = 0;
  for (const [b, e, name] of ranges) {
    if (b < end) throw new FormatError(`safetensors entry '${name}' overlaps another tensor`, { file });
    if (b > end) throw new FormatError(`safetensors data has a hole before '${name}' (bytes ${end}..${b})`, { file });
    end = e;
  }
  if (end !== data.byteLength) throw new FormatError(`safetensors data has ${data.byteLength - end} bytes after the last tensor`, { file });
  return { tensors, metadata };
}

export function readSafetensorsModel(bytes: Uint8Array, fileName?: string): WeightsModel {
  const { tensors, metadata } = readSafetensors(bytes, fileName);
  return { kind: 'weights', format: 'safetensors', tensors, containers: [''], selected: '', metadata };
}

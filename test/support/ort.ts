// onnxruntime-node, the independent runtime the ONNX-facing tests compare against: a model (bytes,
// a path so it finds external data beside it, or an IR graph written as .onnx in node order) run on
// nnport Tensors, its outputs back as nnport Tensors in the session's output order.
import * as ort from 'onnxruntime-node';
import { writeOnnx } from '../../src/formats/onnx/write.js';
import type { DType } from '../../src/ir/dtypes.js';
import { topologicalOrder, type Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';

const ORT_TYPES: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  int64: 'int64',
  uint64: 'uint64',
  bool: 'bool',
  string: 'string',
};

export function toOrt(t: Tensor): ort.Tensor {
  const type = ORT_TYPES[t.dtype];
  if (!type) throw new Error(`onnxruntime-node cannot take ${t.dtype}`);
  return new ort.Tensor(type, t.data as never, [...t.shape]);
}

export function fromOrt(t: ort.Tensor): Tensor {
  const dtype = (Object.keys(ORT_TYPES) as DType[]).find((d) => ORT_TYPES[d] === t.type);
  if (!dtype) throw new Error(`onnxruntime-node output of type ${t.type}`);
  return new Tensor(dtype, [...t.dims], t.data as never);
}

/** Session options every test wants unless it says otherwise: errors only (old opsets warn per session). */
const QUIET: ort.InferenceSession.SessionOptions = { logSeverityLevel: 3 };

/**
 * `model` run by onnxruntime-node on `feeds` (by name, or in the order of the model's inputs):
 * every output, keyed and ordered as the session lists them. The session is released after.
 */
export async function ortRun(model: Uint8Array | string | Graph, feeds: Record<string, Tensor> | Tensor[], options: ort.InferenceSession.SessionOptions = {}): Promise<Map<string, Tensor>> {
  const opts = { ...QUIET, ...options };
  const session =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model, opts)
      : await ort.InferenceSession.create(model instanceof Uint8Array ? model : writeOnnx({ ...model, nodes: topologicalOrder(model) }), opts);
  try {
    const named = Array.isArray(feeds) ? Object.fromEntries(session.inputNames.map((n, i) => [n, feeds[i]!])) : feeds;
    const res = await session.run(Object.fromEntries(Object.entries(named).map(([k, t]) => [k, toOrt(t)])));
    return new Map(session.outputNames.map((n) => [n, fromOrt(res[n]!)]));
  } finally {
    await session.release();
  }
}

/** The first output of `ortRun`. */
export async function ortFirst(model: Uint8Array | string | Graph, feeds: Record<string, Tensor> | Tensor[], options: ort.InferenceSession.SessionOptions = {}): Promise<Tensor> {
  return [...(await ortRun(model, feeds, options)).values()][0]!;
}

/**
 * TensorFlow.js 4.9 (CPU backend, or WASM where a test asks) as the independent oracle for the
 * graph models nnport writes: the model.json and its shards are loaded by TF.js' own HTTP loader
 * (tf.loadGraphModel with a fetchFunc that serves the written files by URL, so the manifest's
 * shard paths, dtypes and quantization are read by TF.js, not by nnport) and run by
 * GraphModel.executeAsync.
 */
import * as tf from '@tensorflow/tfjs';
import { Tensor } from '../../../src/ir/tensor.js';

/** The written files: model.json's bytes and the sidecar shards by relative name. */
export interface WrittenGraphModel {
  json: Uint8Array;
  sidecars: ReadonlyMap<string, Uint8Array>;
}

export async function loadWrittenGraphModel(files: WrittenGraphModel): Promise<tf.GraphModel> {
  const base = 'http://nnport.test/out/';
  const fetchFunc = async (url: string): Promise<Response> => {
    const name = String(url).slice(base.length);
    const bytes = name === 'model.json' ? files.json : files.sidecars.get(name);
    if (!bytes) return new Response(null, { status: 404, statusText: `no ${name}` });
    return new Response(bytes.slice() as Uint8Array<ArrayBuffer>, { status: 200, headers: { 'content-type': name.endsWith('.json') ? 'application/json' : 'application/octet-stream' } });
  };
  return tf.loadGraphModel(`${base}model.json`, { fetchFunc });
}

/**
 * Run the model on nnport tensors fed by `inputNames` (default: the signature's, in order); the
 * outputs named by `outputNames` (default: the signature's). GraphModel.execute, or executeAsync
 * where the graph has dynamic ops (NonMaxSuppression, Where).
 */
export async function runGraphModel(model: tf.GraphModel, inputs: Tensor[], inputNames?: string[], outputNames?: string[]): Promise<Tensor[]> {
  const names = inputNames ?? model.inputs.map((i) => i.name);
  const outs = outputNames ?? model.outputs.map((o) => o.name);
  const feeds: Record<string, tf.Tensor> = {};
  inputs.forEach((t, i) => {
    const dtype = t.dtype === 'bool' ? 'bool' : t.dtype.startsWith('float') || t.dtype === 'bfloat16' ? 'float32' : 'int32';
    const values = dtype === 'float32' ? t.toFloat32() : dtype === 'bool' ? Uint8Array.from(t.toNumbers(), (v) => (v ? 1 : 0)) : Int32Array.from(t.toNumbers());
    feeds[names[i]!] = tf.tensor(values, [...t.shape], dtype);
  });
  let ys: tf.Tensor | tf.Tensor[];
  try {
    ys = model.execute(feeds, outs);
  } catch (e) {
    if (!(e instanceof Error && /executeAsync/.test(e.message))) throw e;
    ys = await model.executeAsync(feeds, outs);
  }
  const list = Array.isArray(ys) ? ys : [ys];
  const result = await Promise.all(
    list.map(async (y) => {
      const data = await y.data();
      const shape = y.shape;
      if (y.dtype === 'float32') return new Tensor('float32', shape, Float32Array.from(data as Float32Array));
      if (y.dtype === 'bool') return new Tensor('bool', shape, Uint8Array.from(data as Uint8Array));
      return new Tensor('int32', shape, Int32Array.from(data as Int32Array));
    }),
  );
  tf.dispose([...Object.values(feeds), ...list]);
  return result;
}

export { tf };

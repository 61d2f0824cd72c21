// TensorFlow.js layers models: model.json (`format: "layers-model"`, a Keras model config as
// `modelTopology`, a `weightsManifest`) + binary shards. A layers model *is* a Keras config, so
// the layer mapping is the Keras reader's (the one place this format leans on another).
import { FormatError, UnsupportedError } from '../../ir/errors.js';
import { float16BitsToFloat32 } from '../../ir/float16.js';
import { Tensor } from '../../ir/tensor.js';
import { isObject, parseModelConfig, type Json, type KerasLayer } from '../keras/config.js';
import { nestedOrigin } from '../keras/nested.js';
import { kerasToGraph, weightsByRole } from '../keras/to-graph.js';
import type { GraphModel, ReadOptions } from '../model.js';

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

function parse(bytes: Uint8Array, file: string): Record<string, Json> {
  let v: Json;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes).replace(/^\uFEFF/, '')) as Json;
  } catch (e) {
    throw new FormatError(`model.json is not valid JSON: ${(e as Error).message}`, { file });
  }
  if (!isObject(v)) throw new FormatError('model.json is not a JSON object', { file });
  return v;
}

/** Read a TF.js layers model (model.json + the shards its manifest names). */
export async function readTfjsLayers(bytes: Uint8Array, options: ReadOptions = {}): Promise<GraphModel> {
  const file = options.fileName ?? 'model.json';
  const j = parse(bytes, file);
  if (j.format === 'graph-model') throw new UnsupportedError('TF.js graph models in the layers-model reader', `'${file}' is a graph model`);
  const topo = j.modelTopology;
  if (!isObject(topo)) throw new FormatError('model.json has no modelTopology', { file });
  const config = isObject(topo.model_config) ? topo.model_config : topo;
  if (!('class_name' in config)) throw new FormatError('modelTopology holds no Keras model config (class_name)', { file });
  const spec = parseModelConfig(config, file);

  const manifest = Array.isArray(j.weightsManifest) ? j.weightsManifest : [];
  const byLayer = new Map<string, { names: string[]; tensors: Tensor[] }>();
  const read = async (p: string): Promise<Uint8Array> => {
    if (options.files) return options.files.read(p);
    if (options.readSibling) return options.readSibling(p);
    throw new FormatError(`the weights are in '${p}' beside model.json: give that file too (or the folder)`, { file });
  };
  for (const group of manifest) {
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) throw new FormatError('weightsManifest: a group without paths or weights', { file });
    const parts: Uint8Array[] = [];
    for (const p of group.paths) parts.push(await read(String(p)));
    const total = parts.reduce((a, b) => a + b.byteLength, 0);
    const buf = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      buf.set(p, at);
      at += p.byteLength;
    }
    let offset = 0;
    for (const w of group.weights as unknown as ManifestWeight[]) {
      if (!isObject(w as unknown as Json) || typeof w.name !== 'string' || !Array.isArray(w.shape)) throw new FormatError('weightsManifest: a weight without name or shape', { file });
      const n = w.shape.reduce((a, b) => a * b, 1);
      if (!Number.isInteger(n) || n < 0) throw new FormatError(`weight '${w.name}': bad shape [${w.shape.join(', ')}]`, { file });
      const stored = w.quantization?.dtype ?? w.dtype;
      const size = BYTES[stored];
      if (!size) throw new UnsupportedError(`TF.js weight dtype '${stored}'`, `weight '${w.name}'`);
      if (offset + n * size > total) throw new FormatError(`weight '${w.name}' runs past the end of its shards (${total} bytes)`, { file });
      const raw = buf.slice(offset, offset + n * size);
      offset += n * size;
      const t = decode(raw, w, n);
      const slash = w.name.lastIndexOf('/');
      const layerKey = slash < 0 ? w.name : w.name.slice(0, slash);
      let entry = byLayer.get(layerKey);
      if (!entry) byLayer.set(layerKey, (entry = { names: [], tensors: [] }));
      entry.names.push(w.name);
      entry.tensors.push(t);
    }
  }
  const weightsOf = (layer: KerasLayer) => {
    // the manifest names weights `<layer>/<role>`, sometimes under a model prefix
    let entry = byLayer.get(layer.name);
    // a nested model's layer ('<nested>/<inner>'): TF.js names its weights by the inner layer alone
    const leaf = nestedOrigin(layer)?.leaf;
    if (!entry && leaf !== undefined && leaf !== layer.name) entry = byLayer.get(leaf);
    if (!entry) for (const [k, v] of byLayer) if (k.endsWith(`/${layer.name}`)) entry = v;
    if (!entry) {
      // a wrapper's weights sit one level down (Bidirectional: <layer>/forward_gru/kernel)
      const nested = [...byLayer].filter(([k]) => k.startsWith(`${layer.name}/`));
      if (nested.length) entry = { names: nested.flatMap(([, v]) => v.names), tensors: nested.flatMap(([, v]) => v.tensors) };
    }
    return weightsByRole(layer, entry?.tensors ?? [], entry ? entry.names : undefined, file);
  };
  // a model TF.js saved computes TF.js' layers (a converted Keras model names its Keras version)
  const graph = kerasToGraph(spec, weightsOf, file, { tfjsSaved: String(topo.keras_version ?? '').startsWith('tfjs-layers'), inputShapes: options.inputShapes });
  graph.metadata = { producerName: typeof j.generatedBy === 'string' ? j.generatedBy : 'tfjs-layers' };
  return { kind: 'graph', format: 'tfjs', graph };
}

function decode(raw: Uint8Array, w: ManifestWeight, n: number): Tensor {
  const q = w.quantization;
  if (q) {
    const out = new Float32Array(n);
    if (q.dtype === 'float16') {
      const h = new Uint16Array(raw.buffer, raw.byteOffset, n);
      for (let i = 0; i < n; i++) out[i] = float16BitsToFloat32(h[i]!);
    } else {
      const src = q.dtype === 'uint8' ? raw : new Uint16Array(raw.buffer, raw.byteOffset, n);
      const scale = q.scale ?? 1;
      const min = q.min ?? 0;
      for (let i = 0; i < n; i++) out[i] = src[i]! * scale + min;
    }
    return new Tensor('float32', w.shape, out);
  }
  switch (w.dtype) {
    case 'float32':
      return new Tensor('float32', w.shape, new Float32Array(raw.buffer, raw.byteOffset, n));
    case 'int32':
      return new Tensor('int32', w.shape, new Int32Array(raw.buffer, raw.byteOffset, n));
    case 'bool':
      return new Tensor('bool', w.shape, new Uint8Array(raw.buffer, raw.byteOffset, n));
    default:
      throw new UnsupportedError(`TF.js weight dtype '${w.dtype}'`, `weight '${w.name}'`);
  }
}

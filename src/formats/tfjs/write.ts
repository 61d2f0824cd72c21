// TF.js layers model writer: model.json (format "layers-model", the Keras config as
// modelTopology.model_config, a weightsManifest) + group1-shardKofN.bin shards of at most
// `shardSize` bytes (default 4 MiB, what tensorflowjs_converter uses).
import { UnsupportedError } from '../../ir/errors.js';
import type { JsonObject } from '../keras/config.js';
import type { KerasLayerOut, KerasModelOut } from '../keras/from-graph.js';
import { keras2ModelConfig, kerasLayersOf, namedWeights } from '../keras/write.js';
import type { LoadedModel, WriteOptions } from '../model.js';
import { refuseUnknownToTfjs } from './tfjs-classes.js';
import { DEFAULT_SHARD_SIZE, writeShards } from './shards.js';

export { DEFAULT_SHARD_SIZE } from './shards.js';

const TFJS_DTYPES: Record<string, string> = { float32: 'float32', int32: 'int32', bool: 'bool' };

export async function writeTfjsLayers(model: LoadedModel, options: WriteOptions = {}): Promise<Uint8Array> {
  const m = globalPooling3dAsPooling(await kerasLayersOf(model, 'writing a TF.js layers model'));
  refuseResetAfterGru(m);
  refuseTfjsGaps(m);
  const modelConfig = keras2ModelConfig(m);
  refuseUnknownToTfjs(modelConfig);
  const shardSize = options.shardSize ?? DEFAULT_SHARD_SIZE;
  const weights = namedWeights(m);
  const specs = weights.map(({ name, tensor }) => {
    const dtype = TFJS_DTYPES[tensor.dtype];
    if (!dtype) throw new UnsupportedError(`a ${tensor.dtype} weight in a TF.js model`, `weight '${name}'`);
    return { name, shape: [...tensor.shape], dtype };
  });
  const paths = writeShards(weights.map((w) => w.tensor.bytes()), shardSize, options.sidecars);
  const json = {
    format: 'layers-model',
    generatedBy: 'nnport',
    convertedBy: null,
    modelTopology: { keras_version: 'tfjs-layers 4.9.0', backend: 'tensor_flow.js', model_config: modelConfig },
    // a model without weights has no manifest: TF.js 4.9's loadLayersModel fails on an empty one
    ...(weights.length ? { weightsManifest: [{ paths, weights: specs }] } : {}),
  };
  return new TextEncoder().encode(JSON.stringify(json));
}

/**
 * TF.js 4.9 has no GlobalAveragePooling3D / GlobalMaxPooling3D: an AveragePooling3D / MaxPooling3D
 * over the whole (D, H, W) volume, then a Reshape of its (1, 1, 1, C) to (C) under the layer's name.
 * The same sum (or maximum) over the same elements.
 */
function globalPooling3dAsPooling(m: KerasModelOut): KerasModelOut {
  const global: Record<string, string> = { GlobalAveragePooling3D: 'AveragePooling3D', GlobalMaxPooling3D: 'MaxPooling3D' };
  if (!m.layers.some((l) => global[l.className])) return m;
  const byName = new Map(m.layers.map((l) => [l.name, l]));
  const names = new Set(m.layers.map((l) => l.name));
  const layers = m.layers.flatMap((l): KerasLayerOut[] => {
    const cls = global[l.className];
    if (!cls) return [l];
    const ref = l.inputs[0]!;
    const from = byName.get(ref[0]);
    const volume = ref[2] === 0 ? from?.shape.slice(1, 4) : undefined;
    const c = l.shape[1] ?? null;
    if (!volume || volume.length !== 3 || volume.some((d) => typeof d !== 'number') || typeof c !== 'number') {
      throw new UnsupportedError(`Keras ${l.className} of a volume of unknown size in a TF.js layers model: TF.js 4.9 has no such class and a ${cls} needs the pool size (write a Keras .h5 or .keras instead)`, `layer '${l.name}'`);
    }
    let pool = `${l.name}_pool`;
    for (let i = 1; names.has(pool); i++) pool = `${l.name}_pool_${i}`;
    names.add(pool);
    const dims = volume as number[];
    return [
      { className: cls, name: pool, config: { name: pool, trainable: true, dtype: 'float32', pool_size: dims, strides: dims, padding: 'valid', data_format: 'channels_last' }, inputs: l.inputs, weights: [], shape: [null, 1, 1, 1, c] },
      { className: 'Reshape', name: l.name, config: { name: l.name, trainable: true, dtype: 'float32', target_shape: [c] }, inputs: [[pool, 0, 0]], weights: [], shape: l.shape },
    ];
  });
  return { ...m, layers };
}

/** TF.js 4.9's GRUCell throws on reset_after=True (PyTorch's GRU, ONNX linear_before_reset=1), which Keras runs. */
function refuseResetAfterGru(m: KerasModelOut): void {
  for (const l of m.layers) {
    const inner = l.className === 'Bidirectional' ? (l.config.layer as { class_name?: string; config?: JsonObject } | undefined) : { class_name: l.className, config: l.config };
    if (inner?.class_name === 'GRU' && inner.config?.reset_after === true) {
      throw new UnsupportedError('GRU with reset_after=True (a PyTorch GRU, ONNX linear_before_reset=1) in a TF.js layers model: TF.js 4.9 cannot build it (write a Keras .h5 instead)', `layer '${l.name}'`);
    }
  }
}

/**
 * Keras layers and activations that TF.js 4.9 cannot build (Keras runs them; the .h5 keeps them):
 * ELU with alpha other than 1, the 'exponential' activation, Normalization (Keras' preprocessing layer),
 * ConvLSTM1D / 3D, ConvLSTM2D with initial states.
 */
function refuseTfjsGaps(m: KerasModelOut): void {
  for (const l of m.layers) {
    if (l.className === 'ConvLSTM1D' || l.className === 'ConvLSTM3D') {
      throw new UnsupportedError(`Keras ${l.className} in a TF.js layers model: TF.js 4.9 has ConvLSTM2D only (write a Keras .h5 or .keras instead)`, `layer '${l.name}'`);
    }
    if (l.className === 'ConvLSTM2D' && l.initialStates) {
      throw new UnsupportedError('Keras ConvLSTM2D with initial states in a TF.js layers model: TF.js 4.9 cannot build it (write a Keras .h5 or .keras instead)', `layer '${l.name}'`);
    }
    if (l.className === 'Normalization') {
      throw new UnsupportedError(`Keras Normalization (a per-feature shift and scale by constants) in a TF.js layers model: TF.js 4.9 has no Normalization layer (write a Keras .h5 or .keras instead)`, `layer '${l.name}'`);
    }
    if (l.className === 'ELU' && l.config.alpha !== 1) {
      throw new UnsupportedError(`ELU with alpha ${String(l.config.alpha)} in a TF.js layers model: TF.js 4.9's ELU takes alpha 1 only (write a Keras .h5 instead)`, `layer '${l.name}'`);
    }
    if (l.className === 'Activation' && l.config.activation === 'exponential') {
      throw new UnsupportedError(`Exp (the 'exponential' activation) in a TF.js layers model: TF.js 4.9 has no such activation (write a Keras .h5 instead)`, `layer '${l.name}'`);
    }
  }
}


// Keras readers: HDF5 (`model.save('x.h5')` of Keras 2 / tf.keras / Keras 3's legacy path, and
// weights-only files with the config given separately) and Keras 3 `.keras` archives.
import type { Group } from 'h5wasm';
import { FormatError } from '../../ir/errors.js';
import type { Graph } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { ZipReader } from '../../io/zip.js';
import type { GraphModel, ReadOptions } from '../model.js';
import { isObject, parseModelConfig, type Json, type KerasLayer } from './config.js';
import { attrString, attrStrings, DatasetBudget, datasetTensor, isDataset, isGroup, withH5Bytes } from './hdf5.js';
import { isInnerWeight, keras3WeightGroups, nestedOrigin } from './nested.js';
import { keras3LayerVarPaths } from './time-distributed.js';
import { kerasToGraph, weightsByRole } from './to-graph.js';

function parseJson(text: string, file: string, what: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw new FormatError(`${what} is not valid JSON: ${(e as Error).message}`, { file });
  }
}

/** A config given beside a weights-only file: a .json among the files the user named. */
async function separateConfig(options: ReadOptions, file: string): Promise<Json | undefined> {
  const json = options.files?.given.find((n) => n.toLowerCase().endsWith('.json'));
  if (!json || !options.files) return undefined;
  const text = new TextDecoder().decode(await options.files.read(json));
  const v = parseJson(text, json, 'the model config');
  // model.to_json() gives {class_name, config}; a TF.js/tf.keras topology wraps it in model_config
  return isObject(v) && isObject(v.model_config) ? v.model_config : v;
}

/** Read a Keras .h5 file into the IR. */
export async function readKerasH5(bytes: Uint8Array, options: ReadOptions = {}): Promise<GraphModel> {
  const file = options.fileName ?? '<keras.h5>';
  const extra = await separateConfig(options, file);
  const graph = await withH5Bytes(bytes, file, (f): Graph => {
    const configText = attrString(f, 'model_config');
    let configJson: Json;
    if (configText !== undefined) configJson = parseJson(configText, file, 'model_config');
    else if (extra !== undefined) configJson = extra;
    else if (f.attrs.model_config) throw new FormatError(`the model_config attribute is not one JSON string (type ${f.attrs.model_config.dtype}, shape [${f.attrs.model_config.shape?.join(', ') ?? ''}])`, { file });
    else {
      const weightsOnly = attrStrings(f, 'layer_names') !== undefined;
      throw new FormatError(
        weightsOnly
          ? 'a weights-only Keras file (no model_config attribute): give the model config (model.to_json()) as a second file'
          : 'no model_config attribute: not a Keras model file',
        { file },
      );
    }
    const spec = parseModelConfig(configJson, file);
    const root = f.get('model_weights');
    const weightsRoot: Group = isGroup(root) ? root : f;
    const budget = new DatasetBudget(file, bytes.length);
    // Keras 3 saving an .h5 (its legacy path) writes keras_version 3.x
    const kerasVersion = attrString(f, 'keras_version');
    const keras3 = kerasVersion?.startsWith('3.') ?? false;
    return kerasToGraph(spec, (layer) => h5LayerWeights(weightsRoot, layer, file, budget), file, { keras3, kerasVersion, inputShapes: options.inputShapes });
  });
  graph.metadata = { producerName: 'keras', ...graph.metadata };
  return { kind: 'graph', format: 'keras-h5', graph };
}

/** Parts a weight name may have: Keras writes `layer/kernel:0` or a few name scopes more (HDF5 resolves each part of a path on every access, through hard-link loops too). */
const MAX_WEIGHT_NAME_PARTS = 16;

/**
 * A stored weight as the layer's float tensor: Keras loads weights into its float32 variables,
 * casting a float64 dataset; integers are not weights of any Keras layer but Normalization's
 * int64 sample `count` (kept as it is, and not read).
 */
function layerWeight(t: Tensor, layer: KerasLayer, name: string, file: string): Tensor {
  if (t.dtype === 'float32') return t;
  if (t.dtype === 'float64') return new Tensor('float32', t.shape, t.toFloat32());
  if (layer.className === 'Normalization' && /(^|\/)count(:\d+)?$/.test(name) && t.dtype === 'int64') return t;
  throw new FormatError(`layer '${layer.name}': weight '${name}' is stored as ${t.dtype}; Keras layer weights are floating point`, { file });
}

function h5LayerWeights(root: Group, layer: KerasLayer, file: string, budget: DatasetBudget): Map<string, Tensor> {
  // a nested model's layers: in the outermost nested model's group, named '<layer>/kernel:0'
  const nest = nestedOrigin(layer)?.scope.length ? nestedOrigin(layer) : undefined;
  const g = root.get(nest ? nest.scope[0]! : layer.name);
  if (!isGroup(g)) return weightsByRole(layer, [], undefined, file);
  const names = (attrStrings(g, 'weight_names') ?? []).filter((n) => !nest || isInnerWeight(n, nest.leaf));
  const tensors = names.map((n) => {
    if (n.split('/').length > MAX_WEIGHT_NAME_PARTS) throw new FormatError(`layer '${layer.name}': weight name '${n.slice(0, 80)}...' has ${n.split('/').length} parts, more than the ${MAX_WEIGHT_NAME_PARTS} a Keras weight name has`, { file });
    const d = g.get(n);
    if (!isDataset(d)) throw new FormatError(`layer '${layer.name}': weight '${n.length > 200 ? `${n.slice(0, 200)}...` : n}' is listed but not stored`, { file });
    return layerWeight(datasetTensor(d, file, budget), layer, n, file);
  });
  return weightsByRole(layer, tensors, names, file);
}

/** Read a Keras 3 `.keras` archive (metadata.json, config.json, model.weights.h5). */
export async function readKerasV3(bytes: Uint8Array, options: ReadOptions = {}): Promise<GraphModel> {
  const file = options.fileName ?? '<model.keras>';
  const zip = ZipReader.open(bytes, file);
  for (const need of ['config.json', 'model.weights.h5']) {
    if (!zip.has(need)) throw new FormatError(`a .keras archive needs '${need}', this one has ${[...zip.entries.keys()].join(', ')}`, { file });
  }
  const config = parseJson(new TextDecoder().decode(zip.read('config.json')), file, 'config.json');
  const spec = parseModelConfig(config, file);
  const weights = zip.read('model.weights.h5');
  // tf.keras 2.13-2.15 also wrote .keras archives (metadata.json keras_version 2.x)
  const kerasVersion = archiveKerasVersion(zip, file);
  const keras3 = !kerasVersion?.startsWith('2.');
  const graph = await withH5Bytes(weights, `${file}/model.weights.h5`, (f) => {
    const names = keras3WeightGroups(spec);
    const budget = new DatasetBudget(file, weights.length);
    return kerasToGraph(spec, (layer) => keras3LayerWeights(f, nestedOrigin(layer)?.keras3Group ?? names.get(layer) ?? layer.name, layer, file, budget), file, { keras3, kerasVersion, inputShapes: options.inputShapes });
  });
  graph.metadata = { producerName: 'keras', ...graph.metadata };
  return { kind: 'graph', format: 'keras-v3', graph };
}

/** metadata.json's keras_version, where the archive has one. */
function archiveKerasVersion(zip: ZipReader, file: string): string | undefined {
  if (!zip.has('metadata.json')) return undefined;
  let meta: Json;
  try {
    meta = JSON.parse(new TextDecoder().decode(zip.read('metadata.json'))) as Json;
  } catch {
    // informational only (Keras itself does not need it to load): read as Keras 3's
    return undefined;
  }
  return isObject(meta) && typeof meta.keras_version === 'string' ? meta.keras_version : undefined;
}

export { keras3WeightGroups } from './nested.js';

function keras3LayerWeights(f: Group, groupName: string, layer: KerasLayer, file: string, budget: DatasetBudget): Map<string, Tensor> {
  // a recurrent layer's weights are in its cell's group (and Bidirectional's direction layers')
  const tensors = keras3LayerVarPaths(layer.className, layer.config).flatMap((path) => {
    const vars = f.get(`layers/${groupName}/${path}`);
    if (!isGroup(vars)) return [];
    const keys = vars.keys().filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b));
    return keys.map((k) => {
      const d = vars.get(k);
      if (!isDataset(d)) throw new FormatError(`layers/${groupName}/${path}/${k} is not a dataset`, { file });
      return layerWeight(datasetTensor(d, file, budget), layer, `${path}/${k}`, file);
    });
  });
  return weightsByRole(layer, tensors, undefined, file);
}

// Keras writers: the HDF5 file `model.save('x.h5')` writes (Keras 2 / tf.keras), the Keras 3
// `.keras` archive, and (through src/formats/tfjs) TF.js layers models. All start from the
// channels-last graph -> Keras layers mapping in from-graph.ts.
import { UnsupportedError, UsageError } from '../../ir/errors.js';
import type { Tensor } from '../../ir/tensor.js';
import { writeZip } from '../../io/zip.js';
import { initKernels } from '../../wasm/loader.js';
import { createNodeEvaluator } from '../../runtime/evaluate.js';
import type { LoadedModel, WriteOptions } from '../model.js';
import { toSnakeCase, type Json, type JsonObject } from './config.js';
import { graphToKeras, type FromGraphOptions, type KerasLayerOut, type KerasModelOut } from './from-graph.js';
import { buildH5Bytes, writeH5File, type DatasetWriter } from './hdf5.js';
import { keras3RecurrentConfig } from './keras3-recurrent.js';
import { keras3LayerVarGroups, keras3TimeDistributedConfig } from './time-distributed-write.js';
import type { File as H5File, Group as H5Group } from 'h5wasm';

export const KERAS2_VERSION = '2.15.0';

export const KERAS3_VERSION = '3.10.0';

function graphOf(model: LoadedModel, what: string) {
  if (model.kind !== 'graph') throw new UsageError(`${what} needs a model with a graph, not ${model.format} weights only (use transplant to fill a Keras structure)`);
  return model.graph;
}

/** Keras layers of a loaded model (the WASM kernels transpose Dense kernels). */
export async function kerasLayersOf(model: LoadedModel, what: string, options: FromGraphOptions = {}): Promise<KerasModelOut> {
  const graph = graphOf(model, what);
  await initKernels();
  return graphToKeras(graph, { evaluate: await createNodeEvaluator(), ...options });
}

/** The Keras 2 / tf.keras functional `model_config` (also TF.js' modelTopology.model_config). */
export function keras2ModelConfig(m: KerasModelOut): JsonObject {
  return {
    class_name: 'Functional',
    config: {
      name: m.name,
      layers: m.layers.map((l) => ({
        class_name: l.className,
        config: l.config,
        name: l.name,
        // tensors taken by keyword ride on the first input: [query, 0, 0, {value: [v, 0, 0]}]
        inbound_nodes: l.inputs.length ? [l.inputs.map((r, i) => [r[0], r[1], r[2], i === 0 && l.kwargs ? { ...l.kwargs } : {}])] : [],
      })),
      input_layers: m.inputs,
      output_layers: m.outputs,
    },
  };
}

/** Weight name as Keras 2 writes it: `<layer>/<role>:0`. */
export function keras2WeightName(l: KerasLayerOut, role: string): string {
  return `${l.name}/${role}:0`;
}

/** Layers Keras 2 (tf.keras 2.15) lacks: the 'log_softmax' activation (Keras 3 and TF.js have it). */
function refuseKeras2Gaps(m: KerasModelOut): KerasModelOut {
  for (const l of m.layers) {
    if (l.className === 'Activation' && l.config.activation === 'log_softmax') {
      throw new UnsupportedError("LogSoftmax in a Keras 2 .h5 file: tf.keras 2 has no 'log_softmax' activation (write a Keras 3 .keras or a TF.js model.json)", `layer '${l.name}'`);
    }
  }
  return m;
}

/** The HDF5 `model.save('x.h5')` layout: root attrs, model_weights/<layer>/<layer>/<role>:0. */
export async function writeKerasH5(model: LoadedModel, _options: WriteOptions = {}): Promise<Uint8Array> {
  const m = refuseKeras2Gaps(await kerasLayersOf(model, 'writing a Keras .h5 file'));
  return buildH5Bytes((f, datasets) => fillKerasH5(f, datasets, m));
}

/**
 * Node: the same file written straight to `path` on disk, each weight converted and written a
 * slice at a time (a 500 MB model never exists a second time in memory). `sliceElements`: the
 * most elements of one weight in WASM memory at once (tests make it tiny to cut small models up).
 */
export async function writeKerasH5File(model: LoadedModel, path: string, _options: WriteOptions = {}, sliceElements?: number): Promise<void> {
  const m = refuseKeras2Gaps(await kerasLayersOf(model, 'writing a Keras .h5 file'));
  await writeH5File(path, (f, datasets) => fillKerasH5(f, datasets, m), sliceElements);
}

/** `path` ('a/b') below `root`, its groups made on first use. */
function subgroups(root: H5Group): (path: string) => H5Group {
  const made = new Map<string, H5Group>([['', root]]);
  const at = (path: string): H5Group => {
    let g = made.get(path);
    if (!g) {
      const cut = path.lastIndexOf('/');
      g = at(path.slice(0, Math.max(cut, 0))).create_group(path.slice(cut + 1));
      made.set(path, g);
    }
    return g;
  };
  return at;
}

function fillKerasH5(f: H5File, datasets: DatasetWriter, m: KerasModelOut): void {
  f.create_attribute('keras_version', KERAS2_VERSION);
  f.create_attribute('backend', 'tensorflow');
  f.create_attribute('model_config', JSON.stringify(keras2ModelConfig(m)));
  const mw = f.create_group('model_weights');
  mw.create_attribute('layer_names', m.layers.map((l) => l.name));
  mw.create_attribute('backend', 'tensorflow');
  mw.create_attribute('keras_version', KERAS2_VERSION);
  for (const l of m.layers) {
    const g = mw.create_group(l.name);
    g.create_attribute('weight_names', l.weights.map((w) => keras2WeightName(l, w.role)));
    if (!l.weights.length) continue;
    // a recurrent layer's role has the cell's (and Bidirectional's direction layer's) groups: lstm_cell/kernel
    const groupOf = subgroups(g.create_group(l.name));
    for (const w of l.weights) {
      const cut = w.role.lastIndexOf('/');
      datasets.write(groupOf(cut < 0 ? '' : w.role.slice(0, cut)), `${w.role.slice(cut + 1)}:0`, w.tensor);
    }
  }
}

// ---- Keras 3 ----

const KERAS3_MODULE: Record<string, string> = { InputLayer: 'keras.layers' };

function keras3Tensor(m: Map<string, KerasLayerOut>, r: [string, number, number]): JsonObject {
  return { class_name: '__keras_tensor__', config: { shape: refShape(m, r), dtype: 'float32', keras_history: r } };
}

/** The shape of one layer output: a recurrent layer's outputs after the first are its [batch, units] states. */
function refShape(m: Map<string, KerasLayerOut>, r: [string, number, number]): Json {
  const l = m.get(r[0])!;
  return r[2] > 0 ? ((l.stateShape as Json) ?? [null, stateUnits(l)]) : (l.shape as Json);
}

function stateUnits(l: KerasLayerOut): number {
  const inner = l.className === 'Bidirectional' ? ((l.config.layer as JsonObject).config as JsonObject) : l.config;
  return inner.units as number;
}

/** Keras 3's config.json for a functional model. */
export function keras3ModelConfig(m: KerasModelOut): JsonObject {
  const byName = new Map(m.layers.map((l) => [l.name, l]));
  const merge = new Set(['Add', 'Subtract', 'Multiply', 'Maximum', 'Minimum', 'Average', 'Concatenate']);
  return {
    module: 'keras',
    class_name: 'Functional',
    config: {
      name: m.name,
      trainable: true,
      layers: m.layers.map((l) => {
        const config: JsonObject = keras3TimeDistributedConfig(l) ?? keras3RecurrentConfig(l.className, l.config) ?? { ...l.config };
        if (l.className === 'InputLayer') {
          config.batch_shape = config.batch_input_shape as Json;
          delete config.batch_input_shape;
        }
        // a recurrent layer's initial states are the call's `initial_state` keyword (RNN.call(sequences, initial_state))
        const states = l.initialStates ? l.inputs.slice(-l.initialStates) : [];
        const inputs = states.length ? l.inputs.slice(0, -states.length) : l.inputs;
        const tensors = inputs.map((r) => keras3Tensor(byName, r));
        const args: Json = inputs.length ? (merge.has(l.className) ? [tensors] : tensors) : [];
        const kwargs: JsonObject = states.length ? { initial_state: states.map((r) => keras3Tensor(byName, r)) } : {};
        for (const [k, r] of Object.entries(l.kwargs ?? {})) kwargs[k] = keras3Tensor(byName, r);
        const entry: JsonObject = { module: KERAS3_MODULE[l.className] ?? 'keras.layers', class_name: l.className, config, registered_name: null, name: l.name, inbound_nodes: l.inputs.length ? [{ args, kwargs }] : [] };
        if (states.length) {
          // Layer.get_build_config: one shape per tensor argument of build(sequences_shape, initial_state_shape)
          entry.build_config = { shapes_dict: { sequences_shape: refShape(byName, inputs[0]!), initial_state_shape: states.map((r) => refShape(byName, r)) } };
        } else if (l.kwargs?.value) {
          // MultiHeadAttention.build(query_shape, value_shape, key_shape=None)
          entry.build_config = { shapes_dict: { query_shape: refShape(byName, inputs[0]!), value_shape: refShape(byName, l.kwargs.value) } };
        } else if (inputs.length) {
          const shapes = inputs.map((r) => refShape(byName, r));
          entry.build_config = { input_shape: shapes.length === 1 ? shapes[0]! : shapes };
        }
        return entry;
      }),
      input_layers: m.inputs,
      output_layers: m.outputs,
    },
    registered_name: 'Functional',
    build_config: { input_shape: null },
    compile_config: null,
  };
}

/** Group names in model.weights.h5: each layer's class in snake_case, numbered per class. */
export function keras3GroupNames(layers: readonly KerasLayerOut[]): string[] {
  const used = new Map<string, number>();
  return layers.map((l) => {
    const base = toSnakeCase(l.className);
    const n = used.get(base);
    used.set(base, (n ?? 0) + 1);
    return n === undefined ? base : `${base}_${n}`;
  });
}

export async function keras3WeightsH5(m: KerasModelOut): Promise<Uint8Array> {
  const groups = keras3GroupNames(m.layers);
  return buildH5Bytes((f, datasets) => {
    const layers = f.create_group('layers');
    m.layers.forEach((l, i) => {
      // a recurrent layer's weights are its cell's (layers/lstm/cell/vars), Bidirectional's in forward_layer / backward_layer
      const groupAt = subgroups(layers.create_group(groups[i]!));
      for (const v of keras3LayerVarGroups(l)) {
        const vars = groupAt(v.path);
        vars.create_attribute('name', v.name);
        v.tensors.forEach((t, j) => datasets.write(vars, String(j), t));
      }
    });
    f.create_group('optimizer').create_group('vars');
    f.create_group('vars').create_attribute('name', m.name);
  });
}

/** The `.keras` zip Keras 3 writes: metadata.json, config.json, model.weights.h5 (stored). */
export async function writeKerasV3(model: LoadedModel, _options: WriteOptions = {}): Promise<Uint8Array> {
  const m = await kerasLayersOf(model, 'writing a .keras file', { keras3: true });
  const enc = new TextEncoder();
  const date = new Date().toISOString().replace(/T(\d\d):(\d\d):(\d\d).*/, '@$1:$2:$3');
  return writeZip([
    { name: 'metadata.json', data: enc.encode(JSON.stringify({ keras_version: KERAS3_VERSION, date_saved: date })) },
    { name: 'config.json', data: enc.encode(JSON.stringify(keras3ModelConfig(m))) },
    { name: 'model.weights.h5', data: await keras3WeightsH5(m) },
  ]);
}

/** Flat weights of every layer in Keras order, with TF.js-style names `<layer>/<role>`. */
export function namedWeights(m: KerasModelOut): { name: string; tensor: Tensor }[] {
  return m.layers.flatMap((l) => l.weights.map((w) => ({ name: `${l.name}/${w.role}`, tensor: w.tensor })));
}

/**
 * TensorFlow.js (4.9) as the independent oracle for Keras / TF.js files: models are built by
 * TF.js itself from the file's own config and the weights as stored. HDF5 files are opened with
 * h5wasm directly (not nnport's reader). The CPU backend is TF.js' default in Node; the WASM
 * backend (@tensorflow/tfjs-backend-wasm 4.9, XNNPACK kernels) runs the ImageNet-sized models in
 * a fraction of a second where the CPU backend takes minutes, so the tests that run them ask for it.
 */
import * as tf from '@tensorflow/tfjs';
import h5wasm from 'h5wasm';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';

let counter = 0;

/**
 * Switch TF.js to `name` for what follows in this test file (vitest runs each file in its own
 * worker). The WASM backend is loaded only here, so that files that never ask keep the CPU
 * default (importing it registers it above the CPU backend).
 */
export async function useTfjsBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm' && !tf.findBackendFactory('wasm')) await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`TensorFlow.js backend '${name}' failed to start`);
  await tf.ready();
}

/** Open HDF5 bytes with h5wasm's in-memory FS. */
export async function openH5(bytes: Uint8Array): Promise<{ file: InstanceType<typeof h5wasm.File>; close: () => void }> {
  const M = (await h5wasm.ready) as unknown as { FS: { writeFile(p: string, d: Uint8Array): void; unlink(p: string): void } };
  const path = `/oracle-${counter++}.h5`;
  M.FS.writeFile(path, bytes);
  const file = new h5wasm.File(path, 'r');
  return { file, close: () => (file.close(), M.FS.unlink(path)) };
}

function names(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return [v];
  return [];
}

function toTf(d: { value: unknown; shape: number[] | null }): tf.Tensor {
  return tf.tensor(d.value as Float32Array, d.shape ?? [], 'float32');
}

/** A Keras .h5 (`model.save`) as a TF.js model: modelFromJSON(model_config), weights by weight_names. */
export async function tfjsModelFromH5(bytes: Uint8Array): Promise<tf.LayersModel> {
  const { file, close } = await openH5(bytes);
  try {
    const config = JSON.parse(String(file.attrs.model_config!.value));
    const model = await tf.models.modelFromJSON({ modelTopology: config } as never);
    const root = file.get('model_weights') as InstanceType<typeof h5wasm.Group>;
    for (const layer of model.layers) {
      const g = root.get(layer.name) as InstanceType<typeof h5wasm.Group> | null;
      if (!g) continue;
      const wn = names(g.attrs.weight_names?.value);
      if (!wn.length) continue;
      layer.setWeights(wn.map((n) => toTf(g.get(n) as never)));
    }
    return model;
  } finally {
    close();
  }
}

/** A TF.js layers model.json + its shard bytes, loaded by tf.loadLayersModel. */
export async function tfjsModelFromJson(json: Uint8Array | string, readShard: (p: string) => Uint8Array): Promise<tf.LayersModel> {
  const j = JSON.parse(typeof json === 'string' ? json : new TextDecoder().decode(json));
  // no manifest: a model without weights, loaded as TF.js' file and HTTP loaders load it (no weight data)
  if (!j.weightsManifest) return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: j.modelTopology }));
  const specs = j.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
  const parts = j.weightsManifest.flatMap((g: { paths: string[] }) => g.paths.map(readShard));
  const total = parts.reduce((a: number, p: Uint8Array) => a + p.byteLength, 0);
  const data = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.byteLength;
  }
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: j.modelTopology, weightSpecs: specs, weightData: data.buffer }));
}

/** Run a TF.js model on nnport tensors (channels-last, as Keras sees them); first output. */
export function predict(model: tf.LayersModel, inputs: Tensor[]): Tensor[] {
  const xs = inputs.map((t) => tf.tensor(t.toFloat32(), [...t.shape], 'float32'));
  const ys = model.predict(xs.length === 1 ? xs[0]! : xs);
  const list = Array.isArray(ys) ? ys : [ys];
  const out = list.map((y) => Tensor.float32(y.shape, y.dataSync()));
  tf.dispose([...xs, ...list]);
  return out;
}

/** Deterministic pseudo-random input in [-1, 1). */
export function randomInput(shape: number[], seed = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    d[i] = s / 2 ** 31 - 1;
  }
  return Tensor.float32(shape, d);
}

/** nnport's runtime on g, the inputs by position: its outputs in order. */
export async function nnportRun(g: Graph, xs: Tensor[]): Promise<Tensor[]> {
  const { outputs } = await runGraph(g, new Map(g.inputs.map((v, i) => [v.name, xs[i]!] as const)));
  return g.outputs.map((o) => outputs.get(o.name)!);
}

/** max |a - b| / max(max |b|, 1e-6): error relative to the reference's scale. */
export function relError(a: Tensor, b: Tensor): number {
  const x = a.toFloat32();
  const y = b.toFloat32();
  if (x.length !== y.length) return Infinity;
  let m = 0;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    m = Math.max(m, Math.abs(x[i]! - y[i]!));
    s = Math.max(s, Math.abs(y[i]!));
  }
  return m / Math.max(s, 1e-6);
}

export { tf };

/** A TF.js model saved as TF.js writes it: model.json (one shard, 'w.bin') and that shard's bytes. */
export async function tfjsRoundTrip(model: tf.LayersModel): Promise<{ json: Uint8Array; shard: Uint8Array }> {
  let json = new Uint8Array();
  let shard = new Uint8Array();
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      json = new TextEncoder().encode(JSON.stringify({ modelTopology: a.modelTopology, weightsManifest: [{ paths: ['w.bin'], weights: a.weightSpecs }], format: 'layers-model' }));
      shard = new Uint8Array(a.weightData as ArrayBuffer);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return { json, shard };
}

// ---- Keras 3 archives: TF.js 4.9 reads Keras 2 configs, so the test rewrites the file's own
// config into that dialect (same layers, same arguments) and sets the stored vars in order. ----

type J = Record<string, unknown>;

function snake(name: string): string {
  return name.replace(/\W+/g, '').replace(/(.)([A-Z][a-z]+)/g, '$1_$2').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}

const DROP = ['kernel_initializer', 'bias_initializer', 'kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint',
  'beta_initializer', 'gamma_initializer', 'moving_mean_initializer', 'moving_variance_initializer', 'beta_regularizer', 'gamma_regularizer', 'beta_constraint', 'gamma_constraint', 'synchronized'];

function layerToKeras2(l: J): J {
  const c = { ...(l.config as J) };
  for (const k of DROP) delete c[k];
  if (typeof c.dtype === 'object') c.dtype = 'float32';
  if (c.batch_shape) {
    c.batch_input_shape = c.batch_shape;
    delete c.batch_shape;
  }
  delete c.ragged;
  if (Array.isArray(c.axis) && c.axis.length === 1) c.axis = c.axis[0];
  // Keras 3 renamed LeakyReLU's alpha
  if (l.class_name === 'LeakyReLU' && 'negative_slope' in c) {
    c.alpha = c.negative_slope;
    delete c.negative_slope;
  }
  const out: J = { class_name: l.class_name, config: c, name: l.name ?? c.name };
  if (Array.isArray(l.inbound_nodes)) {
    out.inbound_nodes = (l.inbound_nodes as unknown[]).map((node) => {
      if (Array.isArray(node)) return node;
      const refs: unknown[] = [];
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object' && (v as J).class_name === '__keras_tensor__') refs.push([...(((v as J).config as J).keras_history as unknown[]), {}]);
      };
      walk((node as J).args);
      return refs;
    });
  }
  return out;
}

/** A Keras 3 `.keras` archive's config + model.weights.h5 vars, built by TF.js. */
export async function tfjsModelFromKeras3(config: J, weightsH5: Uint8Array): Promise<tf.LayersModel> {
  const cfg = config.config as J;
  const layers = (cfg.layers as J[]).map(layerToKeras2);
  const topo = { class_name: config.class_name === 'Sequential' ? 'Sequential' : 'Model', config: { ...cfg, layers } };
  const model = await tf.models.modelFromJSON({ modelTopology: topo } as never);
  const { file, close } = await openH5(weightsH5);
  try {
    const used = new Map<string, number>();
    for (const l of cfg.layers as J[]) {
      if (config.class_name === 'Sequential' && l.class_name === 'InputLayer') continue;
      const base = snake(String(l.class_name));
      const n = used.get(base);
      used.set(base, (n ?? 0) + 1);
      const group = n === undefined ? base : `${base}_${n}`;
      const vars = file.get(`layers/${group}/vars`) as InstanceType<typeof h5wasm.Group> | null;
      const keys = vars ? vars.keys().sort((a, b) => Number(a) - Number(b)) : [];
      if (!keys.length) continue;
      model.getLayer(String((l.config as J).name)).setWeights(keys.map((k) => toTf(vars!.get(k) as never)));
    }
  } finally {
    close();
  }
  return model;
}

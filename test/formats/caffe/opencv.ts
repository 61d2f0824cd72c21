// OpenCV dnn (cv2.dnn.readNetFromCaffe) reference outputs for Caffe models, made by
// scripts/fixtures/caffe_opencv.py and cached under .fixtures-cache/caffe/<key>/.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import type { ModelFileSet } from '../../../src/formats/model.js';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { REPO_ROOT } from '../../support/corpus.js';

const SCRIPT = join(REPO_ROOT, 'scripts/fixtures/caffe_opencv.py');
const CACHE = join(REPO_ROOT, '.fixtures-cache/caffe');

export interface OpenCvReference {
  dir: string;
  input: Tensor;
  /** OpenCV's output layers by name */
  outputs: Map<string, Tensor>;
  /** the random weights written for a prototxt-only net */
  weights?: string;
  /** every layer's output (unfused), when asked for */
  layers?: Map<string, Tensor>;
}

/**
 * A cached reference is reused only when it was made by the same script from the same inputs:
 * the stamp hashes the script, the model files and the arguments (a cache made by an older
 * script or an older slimmed prototxt once failed with wrong blob shapes).
 */
function stampOf(parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256').update(readFileSync(SCRIPT));
  for (const p of parts) h.update(typeof p === 'string' ? p : Buffer.from(p)).update('\0');
  return h.digest('hex');
}

function cached(dir: string, stamp: string): boolean {
  return existsSync(join(dir, 'meta.json')) && existsSync(join(dir, 'stamp')) && readFileSync(join(dir, 'stamp'), 'utf8') === stamp;
}

function load(dir: string): OpenCvReference {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { outputs: Record<string, number[]>; layers?: Record<string, number[]> };
  const outputs = new Map<string, Tensor>();
  for (const name of Object.keys(meta.outputs)) outputs.set(name, readNpy(new Uint8Array(readFileSync(join(dir, `${name.replaceAll('/', '__')}.npy`)))));
  const weights = join(dir, 'weights.caffemodel');
  const layers = meta.layers ? new Map(Object.keys(meta.layers).map((n) => [n, readNpy(new Uint8Array(readFileSync(join(dir, 'layers', `${n.replaceAll('/', '__')}.npy`))))])) : undefined;
  return { dir, input: readNpy(new Uint8Array(readFileSync(join(dir, 'input.npy')))), outputs, weights: existsSync(weights) ? weights : undefined, layers };
}

/** OpenCV's outputs for a real prototxt + caffemodel on a fixed random input of `shape`. */
export function opencvReal(key: string, prototxt: string, caffemodel: string, shape: number[], allLayers = false): OpenCvReference {
  const dir = join(CACHE, allLayers ? `${key}-layers` : key);
  const args = ['real', prototxt, caffemodel, dir, '--shape', shape.join(','), ...(allLayers ? ['--all-layers'] : [])];
  const stamp = stampOf([...args, readFileSync(prototxt), readFileSync(caffemodel)]);
  if (!cached(dir, stamp)) {
    execFileSync('/usr/bin/python3', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    writeFileSync(join(dir, 'stamp'), stamp);
  }
  return load(dir);
}

/** For opencvRandom: layers whose random blobs are multiplied by a factor; layers whose outputs to save too. */
export interface RandomExtras {
  scales?: Record<string, number>;
  layers?: string[];
}

/**
 * Random weights for a prototxt-only net: one entry per weighted layer with the blob shapes
 * the net declares (nnport read without weights leaves them as graph inputs documented with
 * their layer); OpenCV loads the caffemodel the script writes and refuses blobs that do not
 * fit its own reading of the prototxt.
 */
export function opencvRandom(key: string, prototxt: string, weightless: Graph, shape: number[], extra: RandomExtras = {}): OpenCvReference {
  const dir = join(CACHE, key);
  const more = extra.scales || extra.layers ? [JSON.stringify(extra)] : [];
  const stamp = stampOf([prototxt, readFileSync(prototxt), shape.join(','), ...more]);
  if (!cached(dir, stamp)) {
    mkdirSync(dir, { recursive: true });
    const spec: { layer: string; kind: string; shapes: number[][]; scale?: number }[] = [];
    for (const v of weightless.inputs) {
      const m = /^weights of layer '(.*)' \((\w+)\)/.exec(v.doc ?? '');
      if (!m) continue;
      let e = spec.find((s) => s.layer === m[1]);
      if (!e) spec.push((e = { layer: m[1]!, kind: m[2]!, shapes: [] }));
      e.shapes.push(v.shape as number[]);
    }
    for (const e of spec) if (extra.scales?.[e.layer] !== undefined) e.scale = extra.scales[e.layer];
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    const layerArgs = extra.layers ? ['--layers', extra.layers.join(',')] : [];
    execFileSync('/usr/bin/python3', [SCRIPT, 'random', prototxt, join(dir, 'spec.json'), dir, '--shape', shape.join(','), ...layerArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    writeFileSync(join(dir, 'stamp'), stamp);
  }
  return load(dir);
}

/** A ModelFileSet over real paths: the primary first, then its companions. */
export function pathFiles(...paths: string[]): ModelFileSet {
  return {
    given: paths.map((p) => basename(p)),
    read: async (name) => new Uint8Array(readFileSync(paths.find((p) => basename(p) === name) ?? join(dirname(paths[0]!), name))),
    list: async () => readdirSync(dirname(paths[0]!)),
  };
}

/** max |a - b| / max(|b|) over the elements (the error relative to the output's scale). */
export function relativeError(got: Tensor, want: Tensor): number {
  const a = got.data as Float32Array;
  const b = want.data as Float32Array;
  let scale = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    const d = Math.abs(a[i]! - b[i]!);
    err = Number.isNaN(d) ? Infinity : Math.max(err, d);
  }
  return err / Math.max(scale, 1e-12);
}

/** A corpus Caffe net with its weights: key, prototxt, caffemodel, the input shape the tests feed. */
export type CaffeNet = [key: string, prototxt: string, caffemodel: string, shape: number[]];

const NETS: Record<string, [prototxt: string, caffemodel: string, shape: number[]]> = {
  lenet: ['caffe/lenet-mnist/lenet.prototxt', 'caffe/lenet-mnist/lenet_iter_10000.caffemodel', [2, 1, 28, 28]],
  'cifar10-quick': ['caffe/cifar10-quick-v1format/cifar10_quick.prototxt', 'caffe/cifar10-quick-v1format/cifar10_quick_iter_5000.caffemodel', [2, 3, 32, 32]],
  'cifar10-full': ['caffe/cifar10-full-v1format/cifar10_full.prototxt', 'caffe/cifar10-full-v1format/cifar10_full_iter_70000.caffemodel', [1, 3, 32, 32]],
  // P-Net is fully convolutional: an odd input size exercises ceil pooling on odd sizes
  'mtcnn-pnet': ['caffe/mtcnn-pnet/det1.prototxt', 'caffe/mtcnn-pnet/det1.caffemodel', [1, 3, 25, 31]],
  'mtcnn-rnet': ['caffe/mtcnn-rnet/det2.prototxt', 'caffe/mtcnn-rnet/det2.caffemodel', [2, 3, 24, 24]],
  'mtcnn-onet': ['caffe/mtcnn-onet/det3.prototxt', 'caffe/mtcnn-onet/det3.caffemodel', [1, 3, 48, 48]],
  // splits its 15-channel input by channel into five branches before any conv
  'mtcnn-lnet': ['caffe/mtcnn-lnet/det4.prototxt', 'caffe/mtcnn-lnet/det4.caffemodel', [1, 15, 24, 24]],
};

/** The named corpus nets, in the order given. */
export function caffeNets(...keys: string[]): CaffeNet[] {
  return keys.map((k) => {
    const n = NETS[k];
    if (!n) throw new Error(`no corpus Caffe net '${k}'`);
    return [k, ...n] as CaffeNet;
  });
}

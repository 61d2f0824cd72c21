// Real Caffe models from the corpus, read by nnport, run by nnport's runtime and, converted to
// ONNX, by onnxruntime-node, against OpenCV dnn's outputs on the same input (1e-4 of the
// output's scale). The prototxt-only nets get random weights written into a caffemodel.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaffeNetText, readCaffePrototxt } from '../../../src/formats/caffe/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { shapeSize } from '../../../src/ir/tensor.js';
import { runGraph } from '../../../src/runtime/executor.js';
import { corpusPath, REPO_ROOT } from '../../support/corpus.js';
import { caffeNets, opencvRandom, opencvReal, pathFiles, relativeError, type OpenCvReference } from './opencv.js';
import { ortRun } from '../../support/ort.js';

const TOL = 1e-4;

async function check(graph: Graph, ref: OpenCvReference, onnx = true): Promise<void> {
  const input = graph.inputs.find((v) => !graph.initializers.has(v.name))!;
  const got = (await runGraph(graph, { [input.name]: ref.input })).outputs;
  expect([...got.keys()].sort()).toEqual([...ref.outputs.keys()].sort());
  for (const [name, want] of ref.outputs) {
    const t = got.get(name)!;
    expect(t.shape, name).toEqual(want.shape);
    expect(relativeError(t, want), `nnport ${name}`).toBeLessThanOrEqual(TOL);
  }
  if (!onnx) return;
  const res = await ortRun(graph, { [input.name]: ref.input }, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  for (const [name, want] of ref.outputs) {
    const o = res.get(name)!;
    expect(o.shape, `onnx ${name}`).toEqual(want.shape);
    expect(relativeError(o, want), `onnxruntime ${name}`).toBeLessThanOrEqual(TOL);
  }
}

const REAL = caffeNets('lenet', 'cifar10-quick', 'cifar10-full', 'mtcnn-pnet', 'mtcnn-rnet', 'mtcnn-onet', 'mtcnn-lnet');

describe('Caffe models with their weights vs OpenCV dnn', () => {
  for (const [key, proto, weights, shape] of REAL) {
    it(key, async () => {
      const p = corpusPath(proto);
      const w = corpusPath(weights);
      const ref = opencvReal(key, p, w, shape);
      const model = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, w), inputShapes: { [inputName(p)]: shape } });
      await check(model.graph, ref);
    }, 60_000);
  }
});

describe('every intermediate (what run --dump writes) vs OpenCV dnn, layer by layer', () => {
  const LAYERED: [string, string, string, number[]][] = [
    ['mtcnn-onet', 'caffe/mtcnn-onet/det3.prototxt', 'caffe/mtcnn-onet/det3.caffemodel', [1, 3, 48, 48]],
    ['cifar10-full', 'caffe/cifar10-full-v1format/cifar10_full.prototxt', 'caffe/cifar10-full-v1format/cifar10_full_iter_70000.caffemodel', [1, 3, 32, 32]],
    ['mtcnn-lnet', 'caffe/mtcnn-lnet/det4.prototxt', 'caffe/mtcnn-lnet/det4.caffemodel', [1, 15, 24, 24]],
  ];
  for (const [key, proto, weights, shape] of LAYERED) {
    it(key, async () => {
      const p = corpusPath(proto);
      const w = corpusPath(weights);
      const ref = opencvReal(key, p, w, shape, true);
      const model = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, w), inputShapes: { data: shape } });
      const values = (await runGraph(model.graph, { data: ref.input }, { keepIntermediates: true })).values!;
      // Every Caffe layer's (first) top is a value named after the layer (in place) or its top blob.
      const tops = new Map(readCaffeNetText(new Uint8Array(readFileSync(p)), p).layers.map((l) => [l.name, l.top[0]!]));
      const valueOf = (layer: string) => values.get(layer) ?? values.get(tops.get(layer) ?? '');
      const missing = [...ref.layers!.keys()].filter((n) => !valueOf(n));
      expect(missing).toEqual([]);
      for (const [name, want] of ref.layers!) {
        const got = valueOf(name)!;
        expect(shapeSize(got.shape), name).toBe(shapeSize(want.shape));
        expect(relativeError(got, want), name).toBeLessThanOrEqual(TOL);
      }
    }, 60_000);
  }
});

/** The prototxt's input blob name (all corpus nets have one). */
function inputName(p: string): string {
  const text = readFileSync(p, 'utf8');
  return (/^\s*input\s*:\s*"([^"]+)"/m.exec(text) ?? /type\s*:\s*"Input"[\s\S]*?top\s*:\s*"([^"]+)"/.exec(text) ?? /top\s*:\s*"([^"]+)"[\s\S]*?type\s*:\s*"Input"/.exec(text))![1]!;
}

/**
 * The input sizes are the smallest these nets allow (GoogLeNet's and ResNet's 7x7 AVE pools fix
 * 224; FCN's pad 100 and DilatedNet's unpadded VGG front end need a large field). `slim` divides
 * every num_output of 64 or more (but the 1000 classes) by that factor in a copy of the
 * prototxt, keeping every layer, kernel, stride, pad, dilation, crop and group, so that the
 * reference run stays seconds; the full prototxt is still read and must give the same output
 * shapes.
 */
const RANDOM: [string, string, number[], number][] = [
  ['googlenet', 'caffe/googlenet-deploy-prototxt/deploy.prototxt', [1, 3, 224, 224], 2],
  ['resnet50', 'caffe/resnet50-deploy-prototxt/ResNet-50-deploy.prototxt', [1, 3, 224, 224], 4],
  ['mobilenet-v1', 'caffe/mobilenet-v1-deploy-prototxt/mobilenet_deploy.prototxt', [1, 3, 96, 96], 4],
  ['squeezenet-v1.1', 'caffe/squeezenet-v1.1-deploy-prototxt/deploy.prototxt', [1, 3, 67, 67], 1],
  ['fcn8s', 'caffe/fcn8s-deploy-prototxt/deploy.prototxt', [1, 3, 37, 45], 16],
  ['dilation8', 'caffe/dilation8-deploy-prototxt/dilation8_pascal_voc_deploy.prototxt', [1, 3, 388, 396], 16],
];

function slimmed(key: string, p: string, factor: number): string {
  if (factor === 1) return p;
  const dir = join(REPO_ROOT, '.fixtures-cache/caffe', key);
  mkdirSync(dir, { recursive: true });
  const out = join(dir, basename(p));
  let text = readFileSync(p, 'utf8').replace(/num_output\s*:\s*(\d+)/g, (m, n: string) => (Number(n) >= 64 && Number(n) !== 1000 && Number(n) % factor === 0 ? `num_output: ${Number(n) / factor}` : m));
  // MobileNet-style depthwise groups follow their channels
  text = text.replace(/group\s*:\s*(\d+)/g, (m, n: string) => (Number(n) >= 64 && Number(n) % factor === 0 ? `group: ${Number(n) / factor}` : m));
  writeFileSync(out, text);
  return out;
}

describe('prototxt-only Caffe nets with random weights vs OpenCV dnn', () => {
  for (const [key, proto, shape, factor] of RANDOM) {
    it(key, async () => {
      const full = corpusPath(proto);
      const inputShapes = { [inputName(full)]: shape };
      const p = slimmed(key, full, factor);
      const bare = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, inputShapes });
      const ref = opencvRandom(key, p, bare.graph, shape);
      // Without weights the graph already has OpenCV's output shapes, at full size too.
      const fullGraph = (await readCaffePrototxt(new Uint8Array(readFileSync(full)), { fileName: full, inputShapes })).graph;
      for (const o of fullGraph.outputs) expect(o.shape, o.name).toEqual(ref.outputs.get(o.name)?.shape);
      const model = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, ref.weights!), inputShapes });
      await check(model.graph, ref);
      if (model.graph.nodes.some((n) => n.opType === 'BatchNormalization')) {
        // --fuse-scale: BatchNorm + Scale as one BatchNormalization each, same outputs
        const fused = (await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, ref.weights!), inputShapes, fuseScale: true })).graph;
        const bn = fused.nodes.filter((n) => n.opType === 'BatchNormalization').length;
        expect(bn).toBe(model.graph.nodes.filter((n) => n.opType === 'BatchNormalization').length);
        expect(fused.nodes.filter((n) => n.opType === 'Mul')).toHaveLength(0);
        await check(fused, ref, false);
      }
    }, 120_000);
  }
});

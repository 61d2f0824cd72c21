// The small generated SSD nets (one feature map, PriorBox, DetectionOutput) that the Caffe SSD
// tests run against OpenCV dnn: caffe-ssd-layers.test.ts (nnport's runtime, onnxruntime),
// caffe-ssd-tflite.test.ts (the TFLite interpreter) and caffe-ssd-pb.test.ts (the NumPy GraphDef
// runner) share the nets, so their cached references too; and the detection rows' comparisons.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { readCaffePrototxt } from '../../../src/formats/caffe/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import type { Tensor } from '../../../src/ir/tensor.js';
import { corpusPath, REPO_ROOT } from '../../support/corpus.js';
import { opencvRandom, pathFiles, type OpenCvReference } from './opencv.js';
import { ortRun } from '../../support/ort.js';

const DIR = join(REPO_ROOT, '.fixtures-cache/caffe/ssd-nets');

/** Writes a generated test net's prototxt into the fixture cache; returns its path. */
export function ssdPrototxt(name: string, text: string): string {
  mkdirSync(DIR, { recursive: true });
  const p = join(DIR, `${name}.prototxt`);
  writeFileSync(p, text);
  return p;
}

export const input = (c: number, h: number, w: number) => `input: "data"\ninput_shape { dim: 1 dim: ${c} dim: ${h} dim: ${w} }\n`;
export const conv = (name: string, bottom: string, out: number, extra = '') =>
  `layer { name: "${name}" type: "Convolution" bottom: "${bottom}" top: "${name}" convolution_param { num_output: ${out} kernel_size: 3 pad: 1 ${extra} } }\n`;
export const priorBox = (name: string, bottom: string, param: string) => `layer { name: "${name}" type: "PriorBox" bottom: "${bottom}" bottom: "data" top: "${name}" prior_box_param { ${param} } }\n`;

/** A one-feature-map SSD head ending in DetectionOutput with the given parameters. */
export function ssdNet(classes: number, prior: string, numPriors: number, detection: string): string {
  return (
    input(4, 40, 48) +
    conv('feat', 'data', 8, 'stride: 4') +
    conv('loc', 'feat', numPriors * 4) +
    `layer { name: "loc_perm" type: "Permute" bottom: "loc" top: "loc_perm" permute_param { order: 0 order: 2 order: 3 order: 1 } }\n` +
    `layer { name: "loc_flat" type: "Flatten" bottom: "loc_perm" top: "loc_flat" flatten_param { axis: 1 } }\n` +
    conv('conf', 'feat', numPriors * classes) +
    `layer { name: "conf_perm" type: "Permute" bottom: "conf" top: "conf_perm" permute_param { order: 0 order: 2 order: 3 order: 1 } }\n` +
    `layer { name: "conf_flat" type: "Flatten" bottom: "conf_perm" top: "conf_flat" flatten_param { axis: 1 } }\n` +
    `layer { name: "conf_reshape" type: "Reshape" bottom: "conf_flat" top: "conf_reshape" reshape_param { shape { dim: 0 dim: -1 dim: ${classes} } } }\n` +
    `layer { name: "conf_softmax" type: "Softmax" bottom: "conf_reshape" top: "conf_softmax" softmax_param { axis: 2 } }\n` +
    `layer { name: "conf_out" type: "Flatten" bottom: "conf_softmax" top: "conf_out" flatten_param { axis: 1 } }\n` +
    priorBox('priors', 'feat', prior) +
    `layer { name: "detection_out" type: "DetectionOutput" bottom: "loc_flat" bottom: "conf_out" bottom: "priors" top: "detection_out" detection_output_param { num_classes: ${classes} ${detection} } }\n`
  );
}

export const SSD_PRIOR = 'min_size: 8 max_size: 20 aspect_ratio: 2 flip: true clip: false variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2';
export interface DetectionCase {
  classes: number;
  detection: string;
  prior?: string;
  /** what OpenCV runs instead, when it cannot run the case itself but an equivalent net */
  oracle?: { detection?: string; prior?: string };
}

export const DETECTION_CASES: Record<string, DetectionCase> = {
  'CENTER_SIZE, threshold, top_k, keep_top_k cuts': { classes: 5, detection: 'share_location: true background_label_id: 0 code_type: CENTER_SIZE nms_param { nms_threshold: 0.45 top_k: 40 } keep_top_k: 25 confidence_threshold: 0.3' },
  'CORNER, no threshold, no top_k': { classes: 3, detection: 'share_location: true background_label_id: 0 code_type: CORNER nms_param { nms_threshold: 0.3 } keep_top_k: 5000' },
  // OpenCV sizes its output by keep_top_k and crashes on -1: it runs a keep_top_k above the count
  'keep_top_k -1 (keep all)': {
    classes: 3,
    detection: 'share_location: true background_label_id: 0 code_type: CORNER nms_param { nms_threshold: 0.3 } keep_top_k: -1',
    oracle: { detection: 'share_location: true background_label_id: 0 code_type: CORNER nms_param { nms_threshold: 0.3 } keep_top_k: 5000' },
  },
  'background label 2, keep_top_k above the count': { classes: 4, detection: 'share_location: true background_label_id: 2 code_type: CENTER_SIZE nms_param { nms_threshold: 0.5 top_k: 400 } keep_top_k: 1000 confidence_threshold: 0.4' },
  // OpenCV wants priors without variances then; the same as variances of 1 and the flag off
  'variance encoded in target': {
    classes: 3,
    detection: 'share_location: true background_label_id: 0 code_type: CENTER_SIZE variance_encoded_in_target: true nms_param { nms_threshold: 0.45 top_k: 30 } keep_top_k: 20 confidence_threshold: 0.35',
    oracle: {
      detection: 'share_location: true background_label_id: 0 code_type: CENTER_SIZE nms_param { nms_threshold: 0.45 top_k: 30 } keep_top_k: 20 confidence_threshold: 0.35',
      prior: 'min_size: 8 max_size: 20 aspect_ratio: 2 flip: true clip: false variance: 1',
    },
  },
};

/** One detection row: [image, label, score, xmin, ymin, xmax, ymax]. */
export type Row = number[];

export function rowsOf(data: ArrayLike<number>, shape: readonly number[]): Row[] {
  expect(shape.length).toBe(4);
  expect([shape[0], shape[1], shape[3]]).toEqual([1, 1, 7]);
  return Array.from({ length: data.length / 7 }, (_, i) => Array.from({ length: 7 }, (_, j) => Number(data[i * 7 + j])));
}

/**
 * The same detections, each matched to one of the other's: image and label exact, score and box
 * within 1e-4. (OpenCV sorts its rows by score alone, Caffe by label, then score.)
 */
export function expectSameDetections(got: Row[], want: Row[], what: string): void {
  expect(got.length, `${what}: detection count`).toBe(want.length);
  const free = new Set(got.map((_, i) => i));
  for (const w of want) {
    const i = [...free].find((j) => got[j]![0] === w[0] && got[j]![1] === w[1] && [2, 3, 4, 5, 6].every((c) => Math.abs(got[j]![c]! - w[c]!) <= 1e-4));
    expect(i, `${what}: OpenCV's detection ${w.join(', ')} has no match`).toBeDefined();
    free.delete(i!);
  }
}

/** Row for row: label exact, the rest within 1e-5 of the scale (the same graph, two runtimes). */
export function expectSameRows(got: Row[], want: Row[], what: string): void {
  expect(got.length, `${what}: detection count`).toBe(want.length);
  got.forEach((r, i) => {
    expect(r[1], `${what}: row ${i} label`).toBe(want[i]![1]);
    for (let j = 0; j < 7; j++) expect(Math.abs(r[j]! - want[i]![j]!), `${what}: row ${i} column ${j}`).toBeLessThanOrEqual(1e-5);
  });
}

/** Caffe's row order: by label, then score (descending). */
export const caffeOrdered = (rows: Row[]) => rows.every((r, i) => i === 0 || r[1]! > rows[i - 1]![1]! || (r[1] === rows[i - 1]![1] && r[2]! <= rows[i - 1]![2]!));

/** The graph written to .onnx and run by onnxruntime-node on an NCHW input: its detection rows. */
export async function onnxRows(graph: Graph, input: Tensor): Promise<Row[]> {
  const out = (await ortRun(graph, { data: input }, { intraOpNumThreads: 1, interOpNumThreads: 1 })).get('detection_out')!;
  return rowsOf(out.data as Float32Array, out.shape);
}

/**
 * DETECTION_CASES' net number `i` with OpenCV's random weights (cached): the model nnport reads
 * from it, OpenCV's input and OpenCV's detections (its rows padded with zeros up to keep_top_k
 * dropped). A case with an `oracle` gives OpenCV the net it can parse and nnport the other.
 */
export async function detectionReference(i: number, c: DetectionCase): Promise<{ model: Awaited<ReturnType<typeof readCaffePrototxt>>; input: Tensor; want: Row[] }> {
  const p = ssdPrototxt(`detection${i}`, ssdNet(c.classes, c.prior ?? SSD_PRIOR, 4, c.detection));
  const o = c.oracle ? ssdPrototxt(`detection${i}-oracle`, ssdNet(c.classes, c.oracle.prior ?? c.prior ?? SSD_PRIOR, 4, c.oracle.detection ?? c.detection)) : p;
  const bare = await readCaffePrototxt(new Uint8Array(readFileSync(o)), { fileName: o });
  const ref = opencvRandom(`ssd-detection${i}`, o, bare.graph, [1, 4, 40, 48], { scales: { conf: 2 } });
  const model = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, ref.weights!) });
  const out = ref.outputs.get('detection_out')!;
  const want = rowsOf(out.data as Float32Array, out.shape).filter((r) => r.some((v) => v !== 0));
  expect(want.length, 'OpenCV finds detections').toBeGreaterThan(5);
  return { model, input: ref.input, want };
}

/**
 * DETECTION_CASES' first net and weights with confidence_threshold 1, which no softmax score is
 * above (Caffe keeps score > threshold): the model and OpenCV's input for it.
 */
export async function noDetectionsNet(): Promise<{ model: Awaited<ReturnType<typeof readCaffePrototxt>>; input: Tensor }> {
  const c = Object.values(DETECTION_CASES)[0]!;
  const o = ssdPrototxt('detection0', ssdNet(c.classes, SSD_PRIOR, 4, c.detection));
  const ref = opencvRandom('ssd-detection0', o, (await readCaffePrototxt(new Uint8Array(readFileSync(o)), { fileName: o })).graph, [1, 4, 40, 48], { scales: { conf: 2 } });
  const p = ssdPrototxt('detection-none', ssdNet(c.classes, SSD_PRIOR, 4, c.detection.replace(/confidence_threshold: [\d.]+/, 'confidence_threshold: 1')));
  const model = await readCaffePrototxt(new Uint8Array(readFileSync(p)), { fileName: p, files: pathFiles(p, ref.weights!) });
  return { model, input: ref.input };
}

/** The heads of the corpus MobileNet-SSD, ahead of its DetectionOutput (what --outputs cuts it at). */
export const MOBILENET_SSD_HEADS = ['mbox_loc', 'mbox_conf_flatten', 'mbox_priorbox'];
const MOBILENET_SSD_CONF = ['conv11', 'conv13', 'conv14_2', 'conv15_2', 'conv16_2', 'conv17_2'].map((l) => `${l}_mbox_conf`);

/**
 * The corpus MobileNet-SSD prototxt with OpenCV's random weights (cached) and reference, heads
 * included; its confidence heads scaled up, so random weights give confident, well separated scores.
 */
export async function mobilenetSsdReference(): Promise<{ path: string; ref: OpenCvReference }> {
  const path = corpusPath('caffe/mobilenet-ssd-deploy-prototxt/MobileNetSSD_deploy.prototxt');
  const bare = await readCaffePrototxt(new Uint8Array(readFileSync(path)), { fileName: path });
  const ref = opencvRandom('mobilenet-ssd', path, bare.graph, [1, 3, 300, 300], { scales: Object.fromEntries(MOBILENET_SSD_CONF.map((l) => [l, 3])), layers: MOBILENET_SSD_HEADS });
  return { path, ref };
}

/** `nnport convert ARGS -o <temporary folder>/NAME`, which must succeed: the bytes written. */
export async function cliConvert(args: string[], name: string): Promise<Uint8Array> {
  const out = join(mkdtempSync(join(tmpdir(), 'nnport-ssd-')), name);
  const err: string[] = [];
  const code = await main(['convert', ...args, '-o', out], () => {}, (s) => err.push(s));
  expect(code, err.join('\n')).toBe(0);
  expect(existsSync(out)).toBe(true);
  return new Uint8Array(readFileSync(out));
}

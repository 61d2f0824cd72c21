// Caffe deploy prototxt (+ caffemodel weights, matched by layer name) -> IR Graph; a caffemodel
// alone -> its layers' blobs as named weights.
import { ReadBudget } from '../../ir/budget.js';
import { FormatError, UnsupportedError, UsageError } from '../../ir/errors.js';
import type { Attr, Dim, Graph, Node, ValueInfo } from '../../ir/graph.js';
import { Tensor, shapeSize } from '../../ir/tensor.js';
import type { GraphModel, LoadedModel, ReadOptions, WeightsModel } from '../model.js';
import { detectCaffemodel, detectCaffePrototxt } from './detect.js';
import { blobShapeDims, blobTensor, netLayers, type CaffeLayer, type CaffeNet } from './net.js';
import { CAFFE_LAYERS, DATA_LAYERS, TRAINING_LAYERS, type Blob, type LayerContext } from './ops.js';
import { parsePrototxt } from './prototxt.js';
import { num, param, subs, type Message } from './schema.js';
import { decodeCaffeBinary } from './wire.js';
import { fuseBatchNormScale } from './fuse-scale.js';
import { DETECTIONS_DIM } from './ssd.js';
import { caffeLayerListing } from './listing.js';

/** How a prototxt read without its caffemodel marks the graph inputs that stand for weights. */
const WEIGHTS_DOC = 'weights of ';

/** The graph inputs of a Caffe net read without weights that stand for its layers' blobs. */
export function missingCaffeWeights(graph: Graph): ValueInfo[] {
  return graph.inputs.filter((v) => v.doc?.startsWith(WEIGHTS_DOC));
}

/** A deploy prototxt read alone has its weights as graph inputs: running or converting it is a mistake. */
export function requireCaffeWeights(model: LoadedModel): void {
  const unfilled = model.kind === 'graph' && model.format === 'caffe-prototxt' ? missingCaffeWeights(model.graph) : [];
  if (unfilled.length) throw new UsageError(`the Caffe net has no weights (${unfilled.length} blobs, e.g. '${unfilled[0]!.name}'): give its .caffemodel after the prototxt`);
}

const DETECTION_DOC = 'Caffe DetectionOutput layer ';

/** Output formats that hold the ops DetectionOutput is lowered to (or only the weights). */
const HOLDS_DETECTION = new Set(['onnx', 'tflite', 'tf-graphdef', 'npz', 'safetensors']);

/**
 * A Caffe net with a DetectionOutput layer converts to ONNX, TFLite and TF GraphDef only: the
 * lowered layer needs NonMaxSuppression, TopK with a computed count and shapes known only when
 * run. Other formats are refused naming the layer, with the way to convert the net up to it.
 */
export function refuseCaffeDetectionOutput(model: LoadedModel, format: string): void {
  if (model.kind !== 'graph' || HOLDS_DETECTION.has(format)) return;
  const node = model.graph.nodes.find((n) => n.doc?.startsWith(DETECTION_DOC));
  if (!node) return;
  const m = /'(.*)' \(bottoms (.*)\)$/.exec(node.doc!.slice(DETECTION_DOC.length));
  const [layer, bottoms] = m ? [m[1]!, m[2]!.split(', ').join(',')] : ['?', 'LOC,CONF,PRIORS'];
  throw new UnsupportedError(
    `Caffe DetectionOutput in a ${format} file`,
    `layer '${layer}' becomes NonMaxSuppression, TopK and shapes known only when run, which only ONNX, TFLite and TF GraphDefs hold: convert to .onnx, .tflite or .pb, or convert the net up to the detection layer with --outputs ${bottoms} and decode the boxes (and NMS) outside`,
  );
}

/** Layer types the graph builder handles itself (they declare, alias or drop blobs). */
const STRUCTURAL = new Set(['Input', 'Split', 'Silence']);

/** The weights of a caffemodel by layer name (the training net's layers, upgraded from V1). */
interface CaffeWeights {
  file: string;
  byName: Map<string, CaffeLayer>;
}


/** Parse a prototxt's bytes (any NetParameter text) into the upgraded, TEST-phase net. */
export function readCaffeNetText(bytes: Uint8Array, file: string): CaffeNet {
  const text = new TextDecoder('utf-8').decode(bytes);
  return netLayers(parsePrototxt(text, file), file, true);
}

/** Decode a caffemodel into its layers (all phases: it is the training net). */
export function readCaffeNetBinary(bytes: Uint8Array, file: string): CaffeNet {
  return netLayers(decodeCaffeBinary(bytes, file), file, false);
}

export async function readCaffePrototxt(bytes: Uint8Array, options: ReadOptions = {}): Promise<GraphModel> {
  const file = options.fileName ?? '<bytes>';
  const net = readCaffeNetText(bytes, file);
  const weights = await companionWeights(options);
  return graphModel(net, file, weights, options);
}

function graphModel(net: CaffeNet, file: string, weights: CaffeWeights | undefined, options: ReadOptions): GraphModel {
  const graph = withOptions(buildCaffeGraph(net, file, weights, options.inputShapes, options.outputs), options);
  const blobsOf = (l: CaffeLayer) => (weights ? weights.byName.get(l.name)?.blobs : l.blobs);
  return { kind: 'graph', format: 'caffe-prototxt', graph, listings: [caffeLayerListing('Caffe layers (TEST phase)', net.layers, blobsOf)] };
}

function withOptions(graph: Graph, options: ReadOptions): Graph {
  if (options.fuseScale) fuseBatchNormScale(graph);
  return graph;
}

export async function readCaffemodel(bytes: Uint8Array, options: ReadOptions = {}): Promise<LoadedModel> {
  const file = options.fileName ?? '<bytes>';
  const net = readCaffeNetBinary(bytes, file);
  const weights: CaffeWeights = { file, byName: new Map(net.layers.map((l) => [l.name, l])) };
  // Given with its deploy prototxt (in either order), the pair is the model.
  const proto = await companionFile(options, /\.prototxt$/i, (head) => detectCaffePrototxt(head));
  if (proto) {
    const deploy = readCaffeNetText(proto.bytes, proto.name);
    return graphModel(deploy, proto.name, weights, options);
  }
  const tensors = new Map<string, Tensor>();
  const metadata: Record<string, string> = {};
  if (net.name) metadata.name = net.name;
  metadata.version = net.v1 ? 'V1 (legacy layers)' : 'V2';
  for (const l of net.layers) {
    const roles = BLOB_ROLES[l.type] ?? [];
    l.blobs.forEach((b, i) => tensors.set(uniqueKey(tensors, `${l.name}/${roles[i] ?? i}`), blobTensor(b, `layer '${l.name}' blob ${i}`, file)));
  }
  const model: WeightsModel = { kind: 'weights', format: 'caffemodel', tensors, metadata, listings: [caffeLayerListing('Caffe layers (as trained, all phases)', net.layers, (l) => l.blobs)] };
  return model;
}

/** What each blob of a weighted layer is; the graph's initializers use the same names. */
const BLOB_ROLES: Record<string, string[]> = {
  Convolution: ['weight', 'bias'],
  Deconvolution: ['weight', 'bias'],
  InnerProduct: ['weight', 'bias'],
  BatchNorm: ['mean', 'variance', 'scale_factor'],
  Scale: ['scale', 'bias'],
  Bias: ['bias'],
  PReLU: ['slope'],
};

function uniqueKey(m: Map<string, unknown>, key: string): string {
  let k = key;
  for (let i = 1; m.has(k); i++) k = `${key}_${i}`;
  return k;
}

/**
 * The other given file that is the companion: by extension, else by its first bytes. Files that
 * are neither are left unread, so the caller can tell the user they were not used.
 */
async function companionFile(options: ReadOptions, ext: RegExp, detect: (head: Uint8Array, name: string) => boolean): Promise<{ name: string; bytes: Uint8Array } | undefined> {
  const files = options.files;
  if (!files) return undefined;
  const others = files.given.slice(1);
  const byName = others.find((n) => ext.test(n));
  if (byName) return { name: byName, bytes: await files.read(byName) };
  for (const name of others) {
    if (/\.(npy|npz|onnx|h5|json)$/i.test(name)) continue;
    const bytes = await files.read(name);
    if (detect(bytes.subarray(0, 4096), name)) return { name, bytes };
  }
  return undefined;
}

async function companionWeights(options: ReadOptions): Promise<CaffeWeights | undefined> {
  const found = await companionFile(options, /\.caffemodel$/i, detectCaffemodel);
  if (!found) return undefined;
  const net = readCaffeNetBinary(found.bytes, found.name);
  return { file: found.name, byName: new Map(net.layers.map((l) => [l.name, l])) };
}

// ---- graph building ----

/** Every unknown field under a message, with the path that leads to it. */
function unknownFields(m: Message, path: string, out: string[]): void {
  for (const u of m.$unknown ?? []) out.push(`${u.at ? `line ${u.at.line}, column ${u.at.column}: ` : ''}unknown field '${u.name}' in ${path}`);
  for (const [k, v] of Object.entries(m)) {
    if (k.startsWith('$')) continue;
    const list = Array.isArray(v) ? v : [v];
    for (const item of list) if (item && typeof item === 'object' && '$type' in (item as object)) unknownFields(item as Message, `${path}.${k}`, out);
  }
}

function checkSupported(net: CaffeNet, file: string): void {
  const unsupported = new Map<string, string[]>();
  for (const l of net.layers) {
    if (CAFFE_LAYERS[l.type] || STRUCTURAL.has(l.type) || DATA_LAYERS.has(l.type) || TRAINING_LAYERS.has(l.type)) continue;
    let names = unsupported.get(l.type);
    if (!names) unsupported.set(l.type, (names = []));
    names.push(l.name);
  }
  if (unsupported.size) {
    const list = [...unsupported].map(([t, names]) => `${t} (${names.length}: ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''})`);
    throw new UnsupportedError(`Caffe layer type${unsupported.size > 1 ? 's' : ''} ${[...unsupported.keys()].join(', ')}`, `'${file}' uses ${list.join('; ')}`);
  }
  for (const l of net.layers) {
    const found: string[] = [];
    unknownFields(l.msg, `layer '${l.name}' (${l.type})`, found);
    if (found.length) throw new FormatError(found[0]!, { file });
  }
}

/**
 * The net cut to the layers the named blobs need (`--outputs`): walking back from the last
 * layer, a layer is kept when it writes a needed blob (the last writer of a name gives its
 * final value), and then its bottoms are needed too.
 */
function cutNet(net: CaffeNet, outputs: string[], file: string): CaffeNet {
  const tops = new Set([...net.inputs.map((i) => i.name), ...net.layers.flatMap((l) => l.top)]);
  for (const o of outputs) if (!tops.has(o)) throw new UsageError(`--outputs: '${o}' is not a blob of '${file}' (give the top names of Caffe layers)`);
  const needed = new Set(outputs);
  const keep = new Set<CaffeLayer>();
  for (let i = net.layers.length - 1; i >= 0; i--) {
    const l = net.layers[i]!;
    if (l.type === 'Input' || DATA_LAYERS.has(l.type) || l.top.some((t) => needed.has(t))) {
      keep.add(l);
      for (const b of l.bottom) needed.add(b);
    }
  }
  return { ...net, layers: net.layers.filter((l) => keep.has(l)) };
}

export function buildCaffeGraph(net: CaffeNet, file: string, weights: CaffeWeights | undefined, inputShapes: Record<string, number[]> = {}, chosen?: string[]): Graph {
  if (chosen?.length) net = cutNet(net, chosen, file);
  checkSupported(net, file);
  // what the reader computes beyond the file's own values (PriorBox's priors) is bounded
  const budget = new ReadBudget(file, 0);
  const graph: Graph = { name: net.name || 'caffe', nodes: [], inputs: [], outputs: [], initializers: new Map(), opsets: { '': 17 }, valueInfo: [], metadata: { producerName: 'caffe' } };
  const used = new Set<string>();
  const unique = (base: string): string => {
    let n = base;
    for (let i = 1; used.has(n); i++) n = `${base}_${i}`;
    used.add(n);
    return n;
  };
  /** Caffe blob name -> its current IR value */
  const blobs = new Map<string, Blob>();
  /** blobs not yet consumed, in creation order: Caffe's net outputs at the end */
  const available = new Map<string, true>();
  const graphInputs = new Set<string>();
  /** tops of data layers, declared as graph inputs when something reads them */
  const pendingData = new Map<string, { layer: CaffeLayer; shape?: number[] }>();
  const overrides = new Map(Object.entries(inputShapes));
  // An unnamed --input-shape is for a net with one input.
  const unnamed = overrides.get('');
  overrides.delete('');
  let declared = 0;

  const declareInput = (name: string, shape: number[] | undefined, where: string): void => {
    if (++declared > 1 && unnamed) throw new UsageError(`${file}: the net has several inputs; name the one --input-shape is for (NAME=N,C,H,W)`);
    const s = overrides.get(name) ?? unnamed ?? shape;
    overrides.delete(name);
    if (!s) throw new UsageError(`${file}: input '${name}' (${where}) has no shape: give it with --input-shape ${name}=N,C,H,W`);
    for (const d of s) if (!Number.isSafeInteger(d) || d <= 0) throw new FormatError(`input '${name}' has invalid shape [${s.join(', ')}]`, { file });
    if (blobs.has(name)) throw new FormatError(`input '${name}' is declared twice`, { file });
    const irName = unique(name);
    graph.inputs.push({ name: irName, dtype: 'float32', shape: [...s] });
    blobs.set(name, { name: irName, shape: [...s] });
    available.set(name, true);
    graphInputs.add(name);
  };

  for (const inp of net.inputs) declareInput(inp.name, inp.shape, 'net input');

  for (const layer of net.layers) {
    const where = `layer '${layer.name}' (${layer.type})`;
    if (TRAINING_LAYERS.has(layer.type)) continue;
    if (layer.type === 'Input') {
      const shapes = subs(param(layer.msg, 'input_param'), 'shape');
      if (shapes.length > 1 && shapes.length !== layer.top.length) throw new FormatError(`${where}: ${layer.top.length} tops but ${shapes.length} shapes`, { file });
      layer.top.forEach((t, i) => declareInput(t, shapes.length ? blobShapeDims(shapes[shapes.length === 1 ? 0 : i]!) : undefined, where));
      continue;
    }
    if (DATA_LAYERS.has(layer.type)) {
      const mem = layer.type === 'MemoryData' ? param(layer.msg, 'memory_data_param') : undefined;
      layer.top.forEach((t, i) => pendingData.set(t, { layer, shape: mem && i === 0 ? ['batch_size', 'channels', 'height', 'width'].map((f) => num(mem, f)) : undefined }));
      continue;
    }
    const bottoms: Blob[] = layer.bottom.map((b) => {
      let v = blobs.get(b);
      const dropped = net.droppedData.get(b);
      if (!v && !pendingData.has(b) && dropped && DATA_LAYERS.has(dropped.type)) pendingData.set(b, { layer: dropped });
      if (!v && pendingData.has(b)) {
        const pd = pendingData.get(b)!;
        declareInput(b, pd.shape, `top of ${pd.layer.type} layer '${pd.layer.name}'`);
        v = blobs.get(b);
      }
      if (!v) throw new FormatError(`${where} reads blob '${b}', which no earlier layer or input produces`, { file });
      if (v.shape.includes(DETECTIONS_DIM)) throw new UnsupportedError(`a Caffe layer reading DetectionOutput's detections`, `${where} reads '${b}' in '${file}'`);
      return v;
    });
    for (const b of layer.bottom) available.delete(b);
    if (layer.type === 'Silence') continue;
    if (layer.type === 'Split') {
      // Split only copies its bottom: the tops are the same IR value.
      if (bottoms.length !== 1) throw new FormatError(`${where} takes 1 bottom, has ${bottoms.length}`, { file });
      for (const t of layer.top) {
        blobs.set(t, bottoms[0]!);
        available.set(t, true);
      }
      continue;
    }
    const row = CAFFE_LAYERS[layer.type]!;
    const tops: (Blob | undefined)[] = new Array(layer.top.length);
    const source = weights ? weights.byName.get(layer.name)?.blobs : layer.blobs.length ? layer.blobs : undefined;
    const blobFile = weights && source ? weights.file : file;
    const fail = (message: string): never => {
      throw new FormatError(`${where}: ${message}`, { file });
    };
    const blobAt = (i: number, shape: number[], role: string): Tensor<Float32Array> | undefined => {
      if (!source) {
        if (weights) throw new FormatError(`${where} needs weights and '${weights.file}' has no layer of that name`, { file });
        return undefined;
      }
      const b = source[i];
      if (!b) throw new FormatError(`${where} needs blob ${i} (${role}) and has ${source.length} blob(s)`, { file: blobFile });
      const t = blobTensor(b, `${where} blob ${i} (${role})`, blobFile);
      if (t.size !== shapeSize(shape)) throw new FormatError(`${where} blob ${i} (${role}) has shape [${t.shape.join(', ')}] (${t.size} values); the layer needs [${shape.join(', ')}] (${shapeSize(shape)})`, { file: blobFile });
      return t;
    };
    const ctx: LayerContext = {
      layer,
      bottoms,
      p: (field) => param(layer.msg, field),
      topName: (i) => {
        const t = layer.top[i];
        if (t === undefined) fail(`needs top ${i}, has ${layer.top.length} top(s)`);
        // In place (top == bottom) or reusing a blob name: a new IR value named after the layer.
        return unique(layer.bottom.includes(t!) || blobs.has(t!) ? (layer.top.length > 1 ? `${layer.name}/${t}` : layer.name) : t!);
      },
      temp: (suffix) => unique(`${layer.name}/${suffix}`),
      node: (opType, inputs, attrs = {}, output) => {
        const out = output ?? unique(`${layer.name}/${opType}`);
        graph.nodes.push(makeNode(unique(`${layer.name}/${opType}`), opType, inputs, [out], attrs));
        return out;
      },
      nodeOutputs: (opType, inputs, outputs, attrs = {}) => {
        graph.nodes.push(makeNode(unique(`${layer.name}/${opType}`), opType, inputs, outputs, attrs));
        return outputs;
      },
      constant: (suffix, t) => {
        const name = unique(`${layer.name}/${suffix}`);
        graph.initializers.set(name, t);
        return name;
      },
      weight: (i, shape, role) => {
        const t = blobAt(i, shape, role);
        const name = unique(`${layer.name}/${role}`);
        if (t) graph.initializers.set(name, t.reshape(shape));
        else graph.inputs.push({ name, dtype: 'float32', shape: [...shape], doc: `${WEIGHTS_DOC}${where}: give the .caffemodel to fill them` });
        return name;
      },
      weightValues: (i, shape, role) => blobAt(i, shape, role)?.data,
      blobCount: () => source?.length,
      setTop: (i, name, shape) => {
        tops[i] = { name, shape };
      },
      take: (bytes, what) => budget.take(bytes, `${where}: ${what}`),
      fail,
      unsupported: (feature) => {
        throw new UnsupportedError(feature, `${where} in '${file}'`);
      },
    };
    const first = graph.nodes.length;
    row(ctx);
    // The ops DetectionOutput is lowered to say where they come from (refuseCaffeDetectionOutput).
    if (layer.type === 'DetectionOutput') for (const n of graph.nodes.slice(first)) n.doc = `${DETECTION_DOC}'${layer.name}' (bottoms ${layer.bottom.join(', ')})`;
    layer.top.forEach((t, i) => {
      const v = tops[i];
      if (!v) fail(`produced no value for top '${t}'`);
      blobs.set(t, v!);
      available.set(t, true);
      graph.valueInfo!.push({ name: v!.name, dtype: 'float32', shape: irShape(v!.shape) });
    });
  }
  if (overrides.size) throw new UsageError(`${file}: --input-shape names ${[...overrides.keys()].map((k) => `'${k}'`).join(', ')}, which is not an input of the net`);
  const outputs: ValueInfo[] = [];
  const seen = new Set<string>();
  for (const b of chosen?.length ? chosen : available.keys()) {
    if (graphInputs.has(b)) {
      if (chosen?.length) throw new UsageError(`--outputs: '${b}' is an input of '${file}'`);
      continue;
    }
    const v = blobs.get(b)!;
    if (seen.has(v.name)) continue;
    seen.add(v.name);
    outputs.push({ name: v.name, dtype: 'float32', shape: irShape(v.shape) });
  }
  if (!outputs.length) throw new FormatError('the net has no output (every blob is consumed)', { file });
  graph.outputs = outputs;
  const outNames = new Set(outputs.map((o) => o.name));
  graph.valueInfo = graph.valueInfo!.filter((v) => !outNames.has(v.name));
  return graph;
}

/** A blob's shape in the IR: DetectionOutput's row count is only known when the net runs. */
function irShape(shape: number[]): Dim[] {
  return shape.map((d) => (d === DETECTIONS_DIM ? 'detections' : d));
}

function makeNode(name: string, opType: string, inputs: string[], outputs: string[], attrs: Record<string, Attr>): Node {
  return { name, opType, domain: '', inputs, outputs, attrs };
}

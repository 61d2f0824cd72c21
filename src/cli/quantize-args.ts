// `convert --quantize ...`: the quantization flags of the TFLite writer, the calibration folder
// of .npy samples or of images (read lazily, one at a time) and the --report JSON.
import type { ConvertResult } from '../index.js';
import { UsageError } from '../ir/errors.js';
import { readNpy } from '../formats/numpy/index.js';
import { nodeFsPromises, nodePath } from '../io/files.js';
import { readModelFileBytes } from '../io/read-file.js';
import { writeOutputFiles } from '../io/writer.js';
import { decodeImage, IMAGE_EXTENSIONS } from '../image/decode.js';
import { imageToInput } from '../image/input.js';
import type { LayerError, QuantizeOptions } from '../passes/quantize.js';
import { one, type ParsedArgs } from './args.js';

export const QUANTIZE_ARGS = [
  { name: 'quantize', value: true },
  { name: 'calibration', value: true },
  { name: 'calibration-images', value: true },
  { name: 'mean', value: true },
  { name: 'std', value: true },
  { name: 'method', value: true },
  { name: 'weight-rounding', value: true },
  { name: 'percentile', value: true },
  { name: 'io', value: true },
  { name: 'report', value: true },
  { name: 'allow-float-fallback' },
  { name: 'no-equalize' },
  { name: 'bias-correction' },
  { name: 'channel-split' },
  { name: 'range-split' },
  { name: 'per-tensor-dense' },
  { name: 'dynamic', value: true },
  { name: 'min-elements', value: true },
];

const reports = new WeakMap<ParsedArgs, LayerError[]>();

export async function quantizeOptionsFromArgs(args: ParsedArgs, out: string, progress: (s: string) => void, print: (s: string) => void): Promise<QuantizeOptions | undefined> {
  const mode = one(args, 'quantize');
  const used = ['calibration', 'calibration-images', 'mean', 'std', 'method', 'weight-rounding', 'percentile', 'io', 'report'].filter((k) => args.values.has(k));
  const dynamicUsed = ['dynamic', 'min-elements'].filter((k) => args.values.has(k));
  if (!mode) {
    if (args.flags.has('no-equalize')) used.push('no-equalize');
    if (args.flags.has('bias-correction')) used.push('bias-correction');
    if (args.flags.has('channel-split')) used.push('channel-split');
    if (args.flags.has('range-split')) used.push('range-split');
    if (args.flags.has('per-tensor-dense')) used.push('per-tensor-dense');
    if (used.length || dynamicUsed.length) throw new UsageError(`convert: --${used[0] ?? dynamicUsed[0]} needs --quantize`);
    if (args.flags.has('allow-float-fallback')) throw new UsageError('convert: --allow-float-fallback needs --quantize int16x8');
    return undefined;
  }
  if (!out.toLowerCase().endsWith('.tflite')) throw new UsageError(`convert: --quantize writes TFLite files; '${out}' is not a .tflite`);
  if (mode !== 'float16' && mode !== 'dynamic' && mode !== 'int8' && mode !== 'int16x8') throw new UsageError(`convert: --quantize must be float16, dynamic, int8 or int16x8, got '${mode}'`);
  const full = mode === 'int8' || mode === 'int16x8';
  if (!full && used.length) throw new UsageError(`convert: --${used[0]} applies to --quantize int8 and int16x8 only`);
  const floatFallback = args.flags.has('allow-float-fallback');
  if (floatFallback && mode !== 'int16x8') throw new UsageError('convert: --allow-float-fallback applies to --quantize int16x8 only');
  if (args.flags.has('no-equalize') && mode !== 'int8') throw new UsageError('convert: --no-equalize applies to --quantize int8 only');
  if (args.flags.has('channel-split') && mode !== 'int8') throw new UsageError('convert: --channel-split applies to --quantize int8 only');
  if (args.flags.has('range-split') && mode !== 'int8') throw new UsageError('convert: --range-split applies to --quantize int8 only');
  if (args.flags.has('range-split') && args.flags.has('channel-split')) throw new UsageError('convert: --channel-split already includes --range-split; give one of them');
  if (args.flags.has('bias-correction') && !full) throw new UsageError('convert: --bias-correction applies to --quantize int8 and int16x8 only');
  if (args.flags.has('per-tensor-dense') && !full) throw new UsageError('convert: --per-tensor-dense applies to --quantize int8 and int16x8 only (dynamic keeps dense weights per tensor)');
  if (dynamicUsed.length && mode !== 'dynamic') throw new UsageError(`convert: --${dynamicUsed[0]} applies to --quantize dynamic only`);
  const kernels = one(args, 'dynamic');
  if (kernels !== undefined && kernels !== 'hybrid' && kernels !== 'weight-only') throw new UsageError(`convert: --dynamic must be hybrid or weight-only, got '${kernels}'`);
  const minText = one(args, 'min-elements');
  const minElements = minText === undefined ? undefined : Number(minText);
  if (minElements !== undefined && !(Number.isInteger(minElements) && minElements >= 1)) throw new UsageError(`convert: --min-elements needs a positive whole number, got '${minText}'`);
  const method = one(args, 'method') ?? 'minmax';
  if (method !== 'minmax' && method !== 'percentile' && method !== 'entropy' && method !== 'mse' && method !== 'search') throw new UsageError(`convert: --method must be minmax, percentile, entropy, mse or search, got '${method}'`);
  const weightRounding = one(args, 'weight-rounding');
  if (weightRounding !== undefined && weightRounding !== 'nearest' && weightRounding !== 'gptq') throw new UsageError(`convert: --weight-rounding must be nearest or gptq, got '${weightRounding}'`);
  const io = one(args, 'io') ?? 'float';
  if (io !== 'float' && io !== 'int8' && io !== 'uint8') throw new UsageError(`convert: --io must be float, int8 or uint8, got '${io}'`);
  const pText = one(args, 'percentile');
  const percentile = pText === undefined ? undefined : Number(pText);
  if (percentile !== undefined && !(percentile > 0 && percentile <= 100)) throw new UsageError(`convert: --percentile must be in (0, 100], got '${pText}'`);
  const options: QuantizeOptions = { mode, method, io, percentile, ...(floatFallback ? { floatFallback } : {}), ...(kernels ? { dynamic: kernels } : {}), ...(minElements ? { minElements } : {}), ...(weightRounding ? { weightRounding } : {}) };
  // cross-layer equalization is on by default for int8 with minmax or mse calibration (src/passes/equalize.ts)
  if (args.flags.has('no-equalize')) options.equalize = false;
  // empirical bias correction (src/passes/bias-correction.ts): an option, it costs about two forward passes per sample
  if (args.flags.has('bias-correction')) options.biasCorrection = true;
  // channel splitting (src/passes/channel-split.ts): an option, it doubles the linear bottlenecks' channels
  if (args.flags.has('channel-split')) options.channelSplit = true;
  // the ReLU6 range split alone (channel-split.ts' splitClippedChannels): MobileNet-v2's file 1.06x
  if (args.flags.has('range-split')) options.clipSplit = 2;
  // one weight scale per dense layer, for a runtime without per-channel FULLY_CONNECTED
  if (args.flags.has('per-tensor-dense')) options.perChannelDense = false;
  // notes of every mode (dynamic: a recurrent layer kept float), before the calibration setup below
  options.onNote = (note) => print(`note: ${note}`);
  if (!full) return options;
  const dir = one(args, 'calibration');
  const imageDir = one(args, 'calibration-images');
  if (dir && imageDir) throw new UsageError('convert: give --calibration (.npy samples) or --calibration-images, not both');
  if (!imageDir && (args.values.has('mean') || args.values.has('std'))) throw new UsageError(`convert: --${args.values.has('mean') ? 'mean' : 'std'} applies to --calibration-images`);
  if (imageDir) {
    const names = (await nodeFsPromises().readdir(imageDir)).filter((f) => IMAGE_EXTENSIONS.some((e) => f.toLowerCase().endsWith(e))).sort();
    if (!names.length) throw new UsageError(`convert: no .png, .jpg, .jpeg or .bmp files in ${imageDir}`);
    const files = names.map((f) => nodePath().join(imageDir, f));
    const mean = numberList(args, 'mean', [0]);
    const std = numberList(args, 'std', [1]);
    options.calibration = (inputs) => {
      if (inputs.length !== 1) throw new UsageError(`convert: --calibration-images feeds one image input; the model has ${inputs.length} inputs (use --calibration with .npy samples)`);
      const input = inputs[0]!;
      return (async function* () {
        for (const f of files) yield [imageToInput(decodeImage(await readModelFileBytes(f), f), input.shape ?? [], { mean, std }, `input '${input.name}'`)];
      })();
    };
    options.onProgress = (k) => progress(`calibrating ${k}/${files.length}`);
    options.calibrationCount = files.length;
  } else {
    if (!dir) throw new UsageError(`convert: --quantize ${mode} needs --calibration DIR (a folder of .npy input samples) or --calibration-images DIR`);
    const names = (await nodeFsPromises().readdir(dir)).filter((f) => f.toLowerCase().endsWith('.npy')).sort();
    if (!names.length) throw new UsageError(`convert: no .npy files in ${dir}`);
    const files = names.map((f) => nodePath().join(dir, f));
    options.calibration = (async function* () {
      for (const f of files) yield [readNpy(await readModelFileBytes(f), f)];
    })();
    options.onProgress = (k) => progress(`calibrating ${k}/${files.length}`);
    options.calibrationCount = files.length;
  }
  if (one(args, 'report')) {
    options.report = true;
    options.onReport = (r) => reports.set(args, r);
  }
  return options;
}

export async function writeQuantizeReport(args: ParsedArgs, _result: ConvertResult): Promise<void> {
  const path = one(args, 'report');
  if (!path) return;
  const layers = reports.get(args) ?? [];
  const json = JSON.stringify({ layers: layers.map((l) => ({ ...l, snrDb: Number.isFinite(l.snrDb) ? l.snrDb : null, ownSnrDb: Number.isFinite(l.ownSnrDb) ? l.ownSnrDb : null })) }, null, 2);
  await writeOutputFiles([[path, new TextEncoder().encode(json + '\n')]]);
}

/** `--mean 127.5` or `--mean 123.675,116.28,103.53`: finite numbers, comma-separated. */
function numberList(args: ParsedArgs, name: string, fallback: number[]): number[] {
  const text = one(args, name);
  if (text === undefined) return fallback;
  const values = text.split(',').map((t) => Number(t.trim()));
  if (!values.length || values.some((v, i) => !Number.isFinite(v) || !text.split(',')[i]!.trim())) throw new UsageError(`convert: --${name} must be numbers separated by commas, got '${text}'`);
  return values;
}

import { canConvertToFile, convert, convertToFile, loadModelFiles } from '../../index.js';
import { UsageError } from '../../ir/errors.js';
import { assertNotAnInput } from '../../io/files.js';
import { checkOutputPath, modelOutputFiles, writeOutputFileBy, writeOutputFiles } from '../../io/writer.js';
import { one, parseArgs } from '../args.js';
import { TF_OPTION_SPECS, TF_OPTIONS_HELP, tfReadOptions } from '../tf-options.js';
import { FUSE_SCALE_HELP, INPUT_SHAPE_HELP, parseInputShapes } from '../input-shapes.js';
import { Progress } from '../progress.js';
import { QUANTIZE_ARGS, quantizeOptionsFromArgs, writeQuantizeReport } from '../quantize-args.js';

export const CONVERT_HELP = `usage: nnport convert MODEL [MORE FILES...] -o OUT [--key PATH] [--input-shape [NAME=]N,C,H,W] [--fuse-scale] [--external-data BYTES] [--shard-size BYTES] [--fold-bn] [--dequantize] [--expand-groups] [--keep-nchw-io] [--int32-io] [--explain]

Converts a model; the output format follows OUT's extension. MODEL is a file or a model's
folder; a model made of several files takes them all, the model first.
  -o, --output OUT        .onnx, .h5 (Keras), .keras (Keras 3), dir/model.json (TF.js layers);
                          for weights (.pth, .safetensors, .npz): .safetensors, .npz
  --key PATH              container to convert from a nested checkpoint
${INPUT_SHAPE_HELP}
${TF_OPTIONS_HELP}
${FUSE_SCALE_HELP}
  --external-data BYTES   ONNX: store tensors of at least BYTES bytes in OUT.data
  --shard-size BYTES      TF.js: the most bytes per weight shard (default 4194304)
  --keep-nchw-io          TFLite: keep the model's NCHW inputs and outputs (a TRANSPOSE at each)
                          instead of making them channels-last
  --int32-io              TFLite: int64 inputs and outputs (token ids, masks, argmax) as int32 in
                          the file, cast inside: what TFLite deployments and the browser interpreter feed
  --tfjs-format F         TF.js model.json: layers (Keras layers, the default) or graph (a graph
                          model of TensorFlow ops, as tensorflowjs_converter writes a frozen graph:
                          transformers, 3-D nets and other models a layers model cannot hold);
                          with graph, --quantize float16|uint8|uint16 stores the float weights as
                          tensorflowjs_converter's --quantize_float16 / _uint8 / _uint16 do
  --dequantize            a quantized model (int8 TFLite, QDQ ONNX) back to float: weights dequantized, activation quantization removed
  --fold-bn               Keras/TF.js: fold each BatchNormalization that follows a conv into it
  --expand-groups         Keras .h5/.keras: grouped convs as Conv2D with block-diagonal kernels and
                          dilated depthwise convs undilated with zero-spread kernels, which TF.js runs
                          right (always so for TF.js model.json; Keras loads either)
  --explain               print what the conversion changed (kept transposes, re-ordered weights,
                          folded BNs, expanded grouped convs)
  --quantize MODE         TFLite: float16, dynamic (int8 weights), int8 (full integer) or int16x8
                          (16-bit activations, 8-bit weights); TF.js graph model: float16, uint8, uint16
  --dynamic hybrid|weight-only  dynamic: hybrid kernels that quantize activations to int8 on the fly
                          (default, as TF's converter) or float kernels reading the int8 weights through
                          DEQUANTIZE (TF's weight-only: the same small file, no activation rounding, float speed)
  --min-elements N        dynamic: weights under N elements stay float (default 1024, as TF's converter)
  --allow-float-fallback  int16x8: ops without a 16x8 kernel stay float (DEQUANTIZE/QUANTIZE around them)
  --calibration DIR       int8: folder of .npy input samples (the model's NHWC layout; NCHW is transposed)
  --calibration-images DIR  int8: folder of .png/.jpg/.bmp images, resized (bilinear) to the input
  --mean M[,M,M] --std S[,S,S]  with --calibration-images: input = (pixel 0..255 - M) / S (default 0, 1)
  --method M              int8 calibration: minmax (default), percentile, entropy, mse (per
                          tensor the range with the least rounding + clipping error over the
                          calibration histogram; one more pass over the samples), search (mse's
                          ranges, then each one chosen for the least error at the next block's output
                          on the simulated int8 model, 8 samples; slower: about 10x the conversion)
  --weight-rounding R     int8: nearest (default) or gptq (each conv/dense weight rounded so that its
                          layer's output on the calibration samples changes least; its input
                          Hessians are summed during calibration)
  --bias-correction       int8: each conv/depthwise/dense bias corrected by its output's mean shift
                          from int8 rounding, measured against the float model on the first 32
                          calibration samples (one more pass: about 10 float passes' time per sample)
  --channel-split         int8: every channel of the linear conv -> [Add | MaxPool] -> conv tensors
                          (bottlenecks, residual streams) split in two offset copies, and the ReLU6 outputs
                          that only group-1 convs read split by range in two: the float function is
                          unchanged on the calibration data, their int8 step halves (those convs get
                          more channels: MobileNet-v2's file 1.6x)
  --range-split           int8: only the second half of --channel-split (the ReLU6 outputs read by
                          group-1 convs split by range in two): MobileNet-v2's file 1.06x
  --per-tensor-dense      int8 / int16x8: one weight scale per dense layer (FULLY_CONNECTED), as TF's
                          older converters wrote, for a runtime without per-channel FULLY_CONNECTED
                          (default: one per output row, as TF's recent converters write)
  --percentile P          percentile method: the percentile of |x| kept (default 99.99)
  --no-equalize           int8: no cross-layer equalization (on by default with minmax, mse and search: conv
                          channels rescaled to balance int8 ranges; the float function is unchanged)
  --io float|int8|uint8   int8: the model's input/output type (default float)
  --report q.json         int8: per-layer error (max abs, mean abs, SNR dB) on the calibration set`;

export async function convertCommand(argv: string[], print: (s: string) => void): Promise<void> {
  const args = parseArgs(argv, [{ name: 'output', short: 'o', value: true }, { name: 'key', value: true }, { name: 'input-shape', value: true, repeat: true }, ...TF_OPTION_SPECS, { name: 'fuse-scale' }, { name: 'external-data', value: true }, { name: 'shard-size', value: true }, { name: 'fold-bn' }, { name: 'dequantize' }, { name: 'expand-groups' }, { name: 'keep-nchw-io' }, { name: 'int32-io' }, { name: 'tfjs-format', value: true }, { name: 'explain' }, ...QUANTIZE_ARGS], 'convert');
  if (args.positional.length < 1) throw new UsageError(`convert: which model?\n${CONVERT_HELP}`);
  const file = args.positional[0]!;
  const out = one(args, 'output');
  if (!out) throw new UsageError(`convert: where to? give -o OUT\n${CONVERT_HELP}`);
  assertNotAnInput(out, args.positional);
  checkOutputPath(out);
  const ext = one(args, 'external-data');
  const threshold = ext === undefined ? undefined : Number(ext);
  if (threshold !== undefined && !(threshold >= 0)) throw new UsageError(`convert: --external-data needs a byte count, got '${ext}'`);
  const shardText = one(args, 'shard-size');
  const shardSize = shardText === undefined ? undefined : Number(shardText);
  if (shardSize !== undefined && !(Number.isInteger(shardSize) && shardSize > 0)) throw new UsageError(`convert: --shard-size needs a positive byte count, got '${shardText}'`);
  const progress = new Progress(process.stderr);
  let result;
  try {
    progress.update(`reading ${file}`);
    const tf = tfReadOptions(args, 'convert');
    const model = await loadModelFiles([...args.positional, ...tf.files], { ...tf.options, key: one(args, 'key'), inputShapes: parseInputShapes(args.values.get('input-shape') ?? [], 'convert'), fuseScale: args.flags.has('fuse-scale') });
    progress.update(`writing ${out}`);
    const tfjs = tfjsOptionsFromArgs(args, out);
    const quantize = await quantizeOptionsFromArgs(args, out, (s) => progress.update(s), print);
    const options = { externalDataThreshold: threshold, shardSize, quantize, foldBn: args.flags.has('fold-bn'), dequantize: args.flags.has('dequantize'), expandGroupedConv: args.flags.has('expand-groups'), ...tfliteIoFromArgs(args, out), ...tfjs };
    if (!quantize && !tfjs.tfjsFormat && canConvertToFile(out)) {
      // Keras .h5: written to disk as each weight is converted, never whole in memory
      let notes: string[] = [];
      await writeOutputFileBy(out, async (tmp) => {
        notes = (await convertToFile(model, out, tmp, options)).notes;
      });
      progress.done();
      explain(args, notes, print);
      print(`wrote ${out}`);
      return;
    }
    result = await convert(model, out, options);
  } finally {
    progress.done();
  }
  await writeOutputFiles(modelOutputFiles(out, result.bytes, result.sidecars));
  await writeQuantizeReport(args, result);
  explain(args, result.notes, print);
  print(`wrote ${out}${result.sidecars.size ? ` (+ ${[...result.sidecars.keys()].join(', ')})` : ''}`);
}

/** --keep-nchw-io / --int32-io: a .tflite output only. */
function tfliteIoFromArgs(args: ReturnType<typeof parseArgs>, out: string): { keepNchwIo?: boolean; int32Io?: boolean } {
  const flags = (['keep-nchw-io', 'int32-io'] as const).filter((f) => args.flags.has(f));
  if (flags.length && !out.toLowerCase().endsWith('.tflite')) throw new UsageError(`convert: --${flags[0]} applies to a .tflite output; '${out}' is not one`);
  return { ...(args.flags.has('keep-nchw-io') ? { keepNchwIo: true } : {}), ...(args.flags.has('int32-io') ? { int32Io: true } : {}) };
}

function explain(args: ReturnType<typeof parseArgs>, notes: string[], print: (s: string) => void): void {
  if (args.flags.has('explain')) for (const line of notes.length ? notes : ['nothing to explain: the model converted as it is']) print(line);
}

/**
 * --tfjs-format layers|graph (a model.json only) and, for a graph model, --quantize float16 / uint8 /
 * uint16 (taken off `args` here: the TFLite quantization flags do not apply to it).
 */
function tfjsOptionsFromArgs(args: ReturnType<typeof parseArgs>, out: string): { tfjsFormat?: 'layers' | 'graph'; tfjsQuantize?: 'float16' | 'uint8' | 'uint16' } {
  const format = one(args, 'tfjs-format');
  const json = out.toLowerCase().endsWith('.json');
  if (format !== undefined && format !== 'layers' && format !== 'graph') throw new UsageError(`convert: --tfjs-format must be layers or graph, got '${format}'`);
  if (format !== undefined && !json) throw new UsageError(`convert: --tfjs-format applies to a TF.js model.json output; '${out}' is not a .json`);
  const mode = one(args, 'quantize');
  if (!json || mode === undefined) return format ? { tfjsFormat: format } : {};
  if (format !== 'graph') throw new UsageError(`convert: --quantize with a TF.js model.json needs --tfjs-format graph (a layers model keeps float32 weights)`);
  if (mode !== 'float16' && mode !== 'uint8' && mode !== 'uint16') throw new UsageError(`convert: --quantize for a TF.js graph model must be float16, uint8 or uint16 (tensorflowjs_converter's --quantize_float16 / _uint8 / _uint16), got '${mode}'`);
  args.values.delete('quantize');
  return { tfjsFormat: format, tfjsQuantize: mode };
}

import { convert, loadModelFiles } from '../../index.js';
import { UsageError } from '../../ir/errors.js';
import { assertNotAnInput } from '../../io/files.js';
import { checkOutputPath, modelOutputFiles, writeOutputFiles } from '../../io/writer.js';
import { one, parseArgs } from '../args.js';
import { INPUT_SHAPE_HELP, parseInputShapes } from '../input-shapes.js';
import { Progress } from '../progress.js';

export const CONVERT_HELP = `usage: nnport convert MODEL [MORE FILES...] -o OUT [--key PATH] [--input-shape [NAME=]N,C,H,W] [--external-data BYTES]

Converts a model; the output format follows OUT's extension. MODEL is a file or a model's
folder; a model made of several files takes them all, the model first.
  -o, --output OUT        .onnx; for weights (.pth, .safetensors, .npz): .safetensors, .npz
  --key PATH              container to convert from a nested checkpoint
${INPUT_SHAPE_HELP}
  --external-data BYTES   ONNX: store tensors of at least BYTES bytes in OUT.data`;

export async function convertCommand(argv: string[], print: (s: string) => void): Promise<void> {
  const args = parseArgs(argv, [{ name: 'output', short: 'o', value: true }, { name: 'key', value: true }, { name: 'input-shape', value: true, repeat: true }, { name: 'external-data', value: true }], 'convert');
  if (args.positional.length < 1) throw new UsageError(`convert: which model?\n${CONVERT_HELP}`);
  const file = args.positional[0]!;
  const out = one(args, 'output');
  if (!out) throw new UsageError(`convert: where to? give -o OUT\n${CONVERT_HELP}`);
  assertNotAnInput(out, args.positional);
  checkOutputPath(out);
  const ext = one(args, 'external-data');
  const threshold = ext === undefined ? undefined : Number(ext);
  if (threshold !== undefined && !(threshold >= 0)) throw new UsageError(`convert: --external-data needs a byte count, got '${ext}'`);
  const progress = new Progress(process.stderr);
  let result;
  try {
    progress.update(`reading ${file}`);
    const model = await loadModelFiles(args.positional, { key: one(args, 'key'), inputShapes: parseInputShapes(args.values.get('input-shape') ?? [], 'convert') });
    progress.update(`writing ${out}`);
    result = await convert(model, out, { externalDataThreshold: threshold });
  } finally {
    progress.done();
  }
  await writeOutputFiles(modelOutputFiles(out, result.bytes, result.sidecars));
  print(`wrote ${out}${result.sidecars.size ? ` (+ ${[...result.sidecars.keys()].join(', ')})` : ''}`);
}

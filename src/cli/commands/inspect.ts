import { formatSummary, inspect, loadModelFiles } from '../../index.js';
import { UsageError } from '../../ir/errors.js';
import { one, parseArgs } from '../args.js';
import { TF_OPTION_SPECS, TF_OPTIONS_HELP, tfReadOptions } from '../tf-options.js';
import { FUSE_SCALE_HELP, INPUT_SHAPE_HELP, parseInputShapes } from '../input-shapes.js';

export const INSPECT_HELP = `usage: nnport inspect MODEL [MORE FILES...] [--json] [--key PATH] [--input-shape [NAME=]N,C,H,W] [--fuse-scale]

MODEL is a file, or a model's folder (SavedModel, TF.js); a model made of several files
takes them all, the model first (nnport inspect deploy.prototxt weights.caffemodel).

Shows a model's format, producer, opsets, inputs and outputs with shapes, a histogram
of its ops, the dtype and shape of every value (inferred without running the model;
symbolic dims such as 'batch' carried through, ? where it depends on the data), and every
weight's name, dtype, shape and size.
  --json        print the summary as JSON ("values": one entry per value: name, dtype, shape, op)
  --key PATH    in a nested checkpoint, the container to list (e.g. model)
${INPUT_SHAPE_HELP}
${TF_OPTIONS_HELP}
${FUSE_SCALE_HELP}`;

export async function inspectCommand(argv: string[], print: (s: string) => void): Promise<void> {
  const args = parseArgs(argv, [{ name: 'json' }, { name: 'key', value: true }, { name: 'input-shape', value: true, repeat: true }, ...TF_OPTION_SPECS, { name: 'fuse-scale' }], 'inspect');
  if (args.positional.length < 1) throw new UsageError(`inspect: which model?\n${INSPECT_HELP}`);
  const file = args.positional[0]!;
  const tf = tfReadOptions(args, 'inspect');
    const model = await loadModelFiles([...args.positional, ...tf.files], { ...tf.options, describeOnly: true, key: one(args, 'key'), inputShapes: parseInputShapes(args.values.get('input-shape') ?? [], 'inspect'), fuseScale: args.flags.has('fuse-scale') });
  const summary = await inspect(model, file);
  print(args.flags.has('json') ? JSON.stringify(summary, null, 2) : formatSummary(summary));
}

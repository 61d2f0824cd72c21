import { freeze } from '../../index.js';
import { UsageError } from '../../ir/errors.js';
import { assertNotAnInput } from '../../io/files.js';
import { nodeFileSet } from '../../io/model-files.js';
import { checkOutputPath, writeOutputFile } from '../../io/writer.js';
import { one, parseArgs } from '../args.js';
import { TF_OPTION_SPECS, tfReadOptions } from '../tf-options.js';

export const FREEZE_HELP = `usage: nnport freeze MODEL [--checkpoint PREFIX] [--outputs NAME[,NAME]] [--set NAME=VALUE]... -o frozen.pb

Freezes a TensorFlow 1 model into one GraphDef: variables become constants holding the
checkpoint's values, the graph is cut down to what the outputs need (savers, gradients,
optimizers, summaries, initializers and Assign go), control dependencies and device
placements are cleared. MODEL is a .meta file (its checkpoint: --checkpoint, else the
folder's 'checkpoint' file, else <name>.index beside it) or a SavedModel folder.
  -o, --output FILE      the frozen GraphDef (.pb)
  --checkpoint PREFIX    checkpoint prefix (model.ckpt), its .index, or its folder
  --outputs NAMES        output nodes, comma-separated (default: the signature's;
                         without either, the error lists candidates)
  --signature NAME       SavedModel/MetaGraph signature (default serving_default)
  --set NAME=VALUE       replace a placeholder by a constant (e.g. keep_prob=1.0); repeatable`;

export async function freezeCommand(argv: string[], print: (s: string) => void): Promise<void> {
  const args = parseArgs(
    argv,
    [{ name: 'output', short: 'o', value: true }, ...TF_OPTION_SPECS],
    'freeze',
  );
  if (args.positional.length !== 1) throw new UsageError(`freeze: give one model (.meta or SavedModel folder)\n${FREEZE_HELP}`);
  const model = args.positional[0]!;
  const out = one(args, 'output');
  if (!out) throw new UsageError(`freeze: where to? give -o frozen.pb\n${FREEZE_HELP}`);
  const tf = tfReadOptions(args, 'freeze');
  const paths = [model, ...tf.files];
  assertNotAnInput(out, paths);
  checkOutputPath(out);
  const files = nodeFileSet(paths);
  const primary = files.given[0]!;
  const frozen = await freeze(await files.read(primary), {
    fileName: primary,
    files,
    readSibling: (rel) => files.read(rel),
    ...tf.options,
  });
  await writeOutputFile(out, frozen.bytes);
  print(
    `wrote ${out}: ${frozen.nodes} nodes, ${frozen.variables} variable${frozen.variables === 1 ? '' : 's'} frozen; ` +
      `${frozen.signature ? `signature ${frozen.signature}, ` : ''}inputs ${frozen.inputs.join(', ') || '(placeholders)'}; outputs ${frozen.outputs.join(', ')}`,
  );
}

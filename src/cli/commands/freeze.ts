import { freeze } from '../../index.js';
import { UsageError } from '../../ir/errors.js';
import { assertNotAnInput, nodeFs, nodePath } from '../../io/files.js';
import { nodeFileSet } from '../../io/model-files.js';
import { checkOutputPath, writeOutputFile } from '../../io/writer.js';
import { one, parseArgs } from '../args.js';

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
    [
      { name: 'output', short: 'o', value: true },
      { name: 'checkpoint', value: true },
      { name: 'outputs', value: true },
      { name: 'signature', value: true },
      { name: 'set', value: true, repeat: true },
    ],
    'freeze',
  );
  if (args.positional.length !== 1) throw new UsageError(`freeze: give one model (.meta or SavedModel folder)\n${FREEZE_HELP}`);
  const model = args.positional[0]!;
  const out = one(args, 'output');
  if (!out) throw new UsageError(`freeze: where to? give -o frozen.pb\n${FREEZE_HELP}`);
  const set: Record<string, number> = {};
  for (const s of args.values.get('set') ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(s);
    const v = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(v)) throw new UsageError(`freeze: --set takes NAME=NUMBER, got '${s}'`);
    set[m[1]!] = v;
  }
  const outputs = one(args, 'outputs')?.split(',').map((s) => s.trim()).filter(Boolean);
  const ckptArg = one(args, 'checkpoint');
  const paths = [model];
  let checkpoint: string | undefined;
  if (ckptArg) {
    const ck = checkpointFiles(ckptArg);
    paths.push(...ck.files);
    checkpoint = ck.prefix;
  }
  assertNotAnInput(out, paths);
  checkOutputPath(out);
  const files = nodeFileSet(paths);
  const primary = files.given[0]!;
  const frozen = await freeze(await files.read(primary), {
    fileName: primary,
    files,
    readSibling: (rel) => files.read(rel),
    outputs,
    checkpoint,
    set: Object.keys(set).length ? set : undefined,
    signature: one(args, 'signature'),
  });
  await writeOutputFile(out, frozen.bytes);
  print(
    `wrote ${out}: ${frozen.nodes} nodes, ${frozen.variables} variable${frozen.variables === 1 ? '' : 's'} frozen; ` +
      `${frozen.signature ? `signature ${frozen.signature}, ` : ''}inputs ${frozen.inputs.join(', ') || '(placeholders)'}; outputs ${frozen.outputs.join(', ')}`,
  );
}

/** The files of a checkpoint named by prefix, .index or folder (with its `checkpoint` state file). */
function checkpointFiles(arg: string): { prefix: string; files: string[] } {
  const fs = nodeFs();
  const path = nodePath();
  let prefix = arg.replace(/\.index$/i, '');
  let isDir = false;
  try {
    isDir = fs.statSync(arg).isDirectory();
  } catch {
    isDir = false;
  }
  if (isDir) {
    const statePath = path.join(arg, 'checkpoint');
    let state: string;
    try {
      state = fs.readFileSync(statePath, 'utf8');
    } catch {
      throw new UsageError(`freeze: --checkpoint ${arg} is a folder without a 'checkpoint' file; give the checkpoint prefix`);
    }
    const m = /^model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"/m.exec(state);
    if (!m) throw new UsageError(`freeze: ${statePath} names no model_checkpoint_path`);
    prefix = path.isAbsolute(m[1]!) ? m[1]! : path.join(arg, m[1]!);
  }
  const dir = path.dirname(prefix);
  const base = path.basename(prefix);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    throw new UsageError(`freeze: cannot list the checkpoint's folder '${dir}'`);
  }
  const shards = names.filter((n) => n.startsWith(`${base}.data-`) && /\.data-\d{5}-of-\d{5}$/.test(n)).sort();
  if (!names.includes(`${base}.index`)) throw new UsageError(`freeze: no checkpoint '${prefix}.index'`);
  return { prefix: base, files: [path.join(dir, `${base}.index`), ...shards.map((s) => path.join(dir, s))] };
}

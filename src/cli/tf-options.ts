// TensorFlow graph options shared by convert, run, inspect and freeze: which outputs to keep,
// placeholders fixed to constants, the signature, and the checkpoint of a .meta (its files are
// added to the model's files so the reader can open them).
import { UsageError } from '../ir/errors.js';
import type { ReadOptions } from '../formats/model.js';
import { nodeFs, nodePath, readFileBytes } from '../io/files.js';
import { one, type OptionSpec, type ParsedArgs } from './args.js';

export const TF_OPTION_SPECS: OptionSpec[] = [
  { name: 'outputs', value: true },
  { name: 'set', value: true, repeat: true },
  { name: 'signature', value: true },
  { name: 'checkpoint', value: true },
];

export const TF_OPTIONS_HELP = `  --outputs NAMES      TensorFlow: output nodes, comma-separated (default: the signature's, else
                       the nodes nothing consumes)
  --set NAME=VALUE     TensorFlow: replace a placeholder by a constant (keep_prob=1.0); repeatable
  --signature NAME     TensorFlow SavedModel/MetaGraph signature (default serving_default)
  --checkpoint PREFIX  TensorFlow .meta: its checkpoint (prefix, .index, V1 shard or folder)`;

/** The read options the TF flags give, and the checkpoint files to add to the model's files. */
export function tfReadOptions(args: ParsedArgs, command: string): { options: Pick<ReadOptions, 'outputs' | 'set' | 'signature' | 'checkpoint'>; files: string[] } {
  const set: Record<string, number> = {};
  for (const s of args.values.get('set') ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(s);
    const v = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(v)) throw new UsageError(`${command}: --set takes NAME=NUMBER, got '${s}'`);
    set[m[1]!] = v;
  }
  const outputs = one(args, 'outputs')?.split(',').map((s) => s.trim()).filter(Boolean);
  const ckptArg = one(args, 'checkpoint');
  const ck = ckptArg ? checkpointFiles(ckptArg, command) : undefined;
  return {
    options: { outputs, set: Object.keys(set).length ? set : undefined, signature: one(args, 'signature'), checkpoint: ck?.prefix },
    files: ck?.files ?? [],
  };
}

/** The files of a checkpoint named by prefix, .index, V1 table or shard, or folder (with its `checkpoint` state file). */
export function checkpointFiles(arg: string, command: string): { prefix: string; files: string[] } {
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
    if (!fs.existsSync(statePath)) throw new UsageError(`${command}: --checkpoint ${arg} is a folder without a 'checkpoint' file; give the checkpoint prefix`);
    // the guarded reader: a FIFO or device named 'checkpoint' is refused, not read forever
    state = new TextDecoder().decode(readFileBytes(statePath));
    const m = /^model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"/m.exec(state);
    if (!m) throw new UsageError(`${command}: ${statePath} names no model_checkpoint_path`);
    prefix = path.isAbsolute(m[1]!) ? m[1]! : path.join(arg, m[1]!);
  }
  const dir = path.dirname(prefix);
  const base = path.basename(prefix);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    throw new UsageError(`${command}: cannot list the checkpoint's folder '${dir}'`);
  }
  const shards = names.filter((n) => n.startsWith(`${base}.data-`) && /\.data-\d{5}-of-\d{5}$/.test(n)).sort();
  if (!names.includes(`${base}.index`)) {
    // a legacy V1 checkpoint: the table `<prefix>` itself, or its shards `<prefix>-NNNNN-of-NNNNN`
    // (a shard named: all of its shards)
    const stem = base.replace(/-\d{5}-of-(\d{5})$/, '');
    const v1 = names.filter((n) => n === base || (n.startsWith(`${stem}-`) && /^-\d{5}-of-\d{5}$/.test(n.slice(stem.length)))).sort();
    if (v1.length) return { prefix: base, files: v1.map((n) => path.join(dir, n)) };
    throw new UsageError(`${command}: no checkpoint '${prefix}.index' (nor a V1 checkpoint '${prefix}' or '${prefix}-NNNNN-of-NNNNN')`);
  }
  return { prefix: base, files: [path.join(dir, `${base}.index`), ...shards.map((s) => path.join(dir, s))] };
}

/**
 * A weights source given as a TensorFlow checkpoint prefix (`model.ckpt`, no such file but a
 * `model.ckpt.index`) or a checkpoint folder (a `checkpoint` state file, no SavedModel): its
 * .index and data shards; any other paths unchanged.
 */
export function checkpointSource(paths: readonly string[], command: string): string[] {
  if (paths.length !== 1) return [...paths];
  const fs = nodeFs();
  const path = nodePath();
  const p = paths[0]!;
  let kind: 'file' | 'dir' | 'none' = 'none';
  try {
    kind = fs.statSync(p).isDirectory() ? 'dir' : 'file';
  } catch {
    kind = 'none';
  }
  if (kind === 'none' && fs.existsSync(`${p}.index`)) return checkpointFiles(p, command).files;
  if (kind === 'dir' && fs.existsSync(path.join(p, 'checkpoint')) && !fs.existsSync(path.join(p, 'saved_model.pb'))) return checkpointFiles(p, command).files;
  return [...paths];
}

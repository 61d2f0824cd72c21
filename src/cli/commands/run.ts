import { loadModelFiles, run, runsInteger } from '../../index.js';
import { NnportError, UsageError } from '../../ir/errors.js';
import { runtimeInputs } from '../../ir/graph.js';
import { checkFeeds } from '../../runtime/executor.js';
import type { Tensor } from '../../ir/tensor.js';
import { assertNotAnInput, nodePath } from '../../io/files.js';
import { checkOutputFolder, checkOutputPath, writeOutputFile } from '../../io/writer.js';
import { writeNpy } from '../../formats/numpy/index.js';
import { one, parseArgs } from '../args.js';
import { TF_OPTION_SPECS, TF_OPTIONS_HELP, tfReadOptions } from '../tf-options.js';
import { FUSE_SCALE_HELP, INPUT_SHAPE_HELP, parseInputShapes } from '../input-shapes.js';
import { requireCaffeWeights } from '../../formats/caffe/index.js';
import { Progress } from '../progress.js';
import { isExistingDir, readNpyFile, writeTensorDir } from '../tensor-files.js';
import { BACKEND_HELP, resolveBackend } from '../backend-option.js';
import { parseRequantization, REQUANTIZATION_HELP, REQUANTIZATION_SPEC } from '../requantization-option.js';

export const RUN_HELP = `usage: nnport run MODEL [MORE FILES...] --input x.npy [--input name=y.npy ...] [-o OUT] [--dump DIR]

Runs the model's reference forward pass on .npy inputs. MODEL is a file or a model's
folder; a model made of several files takes them all, the model first.
  --input FILE        one per graph input, in order; or NAME=FILE to name the input
  -o, --output OUT    one output: OUT.npy; several outputs: a folder with <output>.npy each
  --dump DIR          also write every intermediate tensor as DIR/<value>.npy (+ index.json)
  --key PATH          container to use in a nested checkpoint
${BACKEND_HELP}
${REQUANTIZATION_HELP}
${INPUT_SHAPE_HELP}
${TF_OPTIONS_HELP}
${FUSE_SCALE_HELP}
  --force             write into an output folder that is not empty`;

/** Match --input arguments to graph inputs: by name (name=file) or by position. */
export function resolveFeeds(specs: string[], inputNames: string[]): Map<string, string> {
  const feeds = new Map<string, string>();
  let pos = 0;
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const named = eq > 0 && inputNames.includes(spec.slice(0, eq));
    if (named) {
      const name = spec.slice(0, eq);
      if (feeds.has(name)) throw new UsageError(`run: input '${name}' given twice`);
      feeds.set(name, spec.slice(eq + 1));
    } else {
      while (pos < inputNames.length && feeds.has(inputNames[pos]!)) pos++;
      if (pos >= inputNames.length) throw new UsageError(`run: too many --input files; the model has ${inputNames.length} input(s): ${inputNames.join(', ')}`);
      feeds.set(inputNames[pos++]!, spec);
    }
  }
  const missing = inputNames.filter((n) => !feeds.has(n));
  if (missing.length) throw new UsageError(`run: missing --input for ${missing.map((m) => `'${m}'`).join(', ')} (the model's inputs, in order: ${inputNames.join(', ')})`);
  return feeds;
}

function describe(name: string, t: Tensor): string {
  const v = t.toNumbers();
  let lo = Infinity;
  let hi = -Infinity;
  let sum = 0;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
    sum += x;
  }
  const head = v.slice(0, 6).map((x) => Number(x.toPrecision(6))).join(', ');
  return `${name}: ${t.dtype} [${t.shape.join(', ')}] min ${lo.toPrecision(6)} max ${hi.toPrecision(6)} mean ${(sum / Math.max(1, v.length)).toPrecision(6)}  [${head}${v.length > 6 ? ', ...' : ''}]`;
}

export async function runCommand(argv: string[], print: (s: string) => void): Promise<void> {
  const args = parseArgs(
    argv,
    [{ name: 'input', short: 'i', value: true, repeat: true }, { name: 'output', short: 'o', value: true }, { name: 'dump', value: true }, { name: 'key', value: true }, { name: 'input-shape', value: true, repeat: true }, ...TF_OPTION_SPECS, { name: 'fuse-scale' }, { name: 'force' }, { name: 'backend', value: true }, REQUANTIZATION_SPEC],
    'run',
  );
  if (args.positional.length < 1) throw new UsageError(`run: which model?\n${RUN_HELP}`);
  const file = args.positional[0]!;
  const progress = new Progress(process.stderr);
  progress.update(`reading ${file}`);
  const tf = tfReadOptions(args, 'run');
  const requantization = parseRequantization(one(args, 'requantization'), 'run');
  const model = await loadModelFiles([...args.positional, ...tf.files], { ...tf.options, key: one(args, 'key'), inputShapes: parseInputShapes(args.values.get('input-shape') ?? [], 'run'), fuseScale: args.flags.has('fuse-scale') });
  if (model.kind !== 'graph') throw new UsageError(`run: ${file} holds weights only (${model.format}), not a graph that can be run`);
  requireCaffeWeights(model);
  if (requantization && !runsInteger(model)) throw new UsageError(`run: --requantization is for quantized .tflite models; ${file} runs in floating point`);
  const graph = model.graph;
  const inputNames = runtimeInputs(graph).map((v) => v.name);
  const feedFiles = resolveFeeds(args.values.get('input') ?? [], inputNames);
  const feeds = new Map<string, Tensor>();
  for (const [name, path] of feedFiles) feeds.set(name, readNpyFile(path));

  const out = one(args, 'output');
  const dump = one(args, 'dump');
  const force = args.flags.has('force');
  if (out) assertNotAnInput(out, [...args.positional, ...feedFiles.values()]);
  // folder outputs must be new or empty: checked before the work, not after
  if (dump) checkOutputFolder(dump, force);
  const outIsFolder = out !== undefined && (isExistingDir(out) || !out.toLowerCase().endsWith('.npy'));
  if (out && outIsFolder) checkOutputFolder(out, force);
  else if (out) checkOutputPath(out);
  if (out && dump && nodePath().resolve(out) === nodePath().resolve(dump)) throw new UsageError('run: -o and --dump name the same folder; give two folders');
  try {
    checkFeeds(graph, feeds);
  } catch (e) {
    // name the .npy file that does not fit, not only the graph input
    const input = e instanceof Error ? /^input '([^']+)'/.exec(e.message)?.[1] : undefined;
    if (input && feedFiles.has(input) && e instanceof Error) e.message = `${feedFiles.get(input)}: ${e.message}`;
    throw e;
  }
  const backends = await resolveBackend(one(args, 'backend'), 'run', (s) => process.stderr.write(`${s}\n`));
  let result;
  try {
    result = await run(model, feeds, { backends, requantization, keepIntermediates: dump !== undefined, onProgress: (done, total, node) => progress.update(`running ${node.opType}`, done, total) });
  } catch (e) {
    // planning and op errors name the node; say which model it is in
    if (e instanceof NnportError && !e.message.includes(file)) e.message = `${file}: ${e.message}`;
    throw e;
  } finally {
    progress.done();
  }

  if (dump) {
    const files = await writeTensorDir(dump, result.values!);
    print(`wrote ${files.length} intermediate tensors to ${dump}/`);
  }
  if (!out) {
    for (const [name, t] of result.outputs) print(describe(name, t));
    return;
  }
  const several = result.outputs.size > 1;
  if (several || outIsFolder) {
    if (!outIsFolder) throw new UsageError(`run: the model has ${result.outputs.size} outputs (${[...result.outputs.keys()].join(', ')}); give -o a folder`);
    const files = await writeTensorDir(out, result.outputs);
    print(`wrote ${files.join(', ')} to ${out}/`);
  } else {
    const [name, t] = [...result.outputs][0]!;
    await writeOutputFile(out, writeNpy(t));
    print(`wrote ${name} ${t.dtype} [${t.shape.join(', ')}] to ${out}`);
  }
}

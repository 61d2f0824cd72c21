import type { TensorDiff } from '../../api/compare.js';
import { compare, loadModelFiles, runsInteger } from '../../index.js';
import { UsageError } from '../../ir/errors.js';
import { runtimeInputs } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { one, parseArgs } from '../args.js';
import { readNpyFile } from '../tensor-files.js';
import { resolveFeeds } from './run.js';
import { BACKEND_HELP, resolveBackend } from '../backend-option.js';
import { parseRequantization, REQUANTIZATION_HELP, REQUANTIZATION_SPEC } from '../requantization-option.js';

export const COMPARE_HELP = `usage: nnport compare SOURCE TARGET --input x.npy [--input name=y.npy ...] [--layers] [--json]
       nnport compare SOURCE FILES... --target TARGET [--target MORE ...] --input x.npy ...

SOURCE and TARGET are files or model folders; for models made of several files, list the
source's files and give each of the target's with --target (first the model).

Runs both models on the same inputs and reports the max / mean absolute error of every
output of TARGET against SOURCE (outputs are paired by name, else by position).
  --layers      also compare every intermediate tensor whose name exists in both models
  --atol X      exit with code 2 when any output's max abs error exceeds X
  --json        print the report as JSON
  --backend B   run TARGET on backend B (SOURCE always runs on wasm, the reference): e.g.
                nnport compare m.onnx m.onnx --backend webgpu checks the GPU path
${BACKEND_HELP.split('\n').slice(1).join('\n')}
${REQUANTIZATION_HELP}`;

function row(d: TensorDiff): string {
  if (d.mismatch) return `  ${d.name}: not comparable (${d.mismatch})`;
  return `  ${d.name} [${d.shape.join(', ')}]: max abs ${d.maxAbs.toExponential(3)}  mean abs ${d.meanAbs.toExponential(3)}  max rel ${d.maxRel.toExponential(3)}`;
}

export async function compareCommand(argv: string[], print: (s: string) => void): Promise<number | void> {
  const args = parseArgs(
    argv,
    [{ name: 'input', short: 'i', value: true, repeat: true }, { name: 'layers' }, { name: 'json' }, { name: 'atol', value: true }, { name: 'target', value: true, repeat: true }, { name: 'backend', value: true }, REQUANTIZATION_SPEC],
    'compare',
  );
  const targets = args.values.get('target');
  let srcFiles: string[];
  let dstFiles: string[];
  if (targets) {
    if (args.positional.length < 1) throw new UsageError(`compare: give the source model's files before --target\n${COMPARE_HELP}`);
    [srcFiles, dstFiles] = [args.positional, targets];
  } else {
    if (args.positional.length !== 2) throw new UsageError(`compare: give a source and a target model (for models of several files, give the target's with --target)\n${COMPARE_HELP}`);
    [srcFiles, dstFiles] = [[args.positional[0]!], [args.positional[1]!]];
  }
  const [srcFile, dstFile] = [srcFiles[0]!, dstFiles[0]!];
  const atolText = one(args, 'atol');
  const atol = atolText === undefined ? undefined : Number(atolText);
  if (atol !== undefined && !(atol >= 0)) throw new UsageError(`compare: --atol needs a number, got '${atolText}'`);
  const src = await loadModelFiles(srcFiles);
  const dst = await loadModelFiles(dstFiles);
  if (src.kind !== 'graph' || dst.kind !== 'graph') throw new UsageError('compare: both files must be models with graphs');
  const requantization = parseRequantization(one(args, 'requantization'), 'compare');
  if (requantization && !runsInteger(src) && !runsInteger(dst)) throw new UsageError(`compare: --requantization is for quantized .tflite models; ${srcFile} and ${dstFile} run in floating point`);
  const names = runtimeInputs(src.graph).map((v) => v.name);
  const feeds = new Map<string, Tensor>();
  for (const [n, p] of resolveFeeds(args.values.get('input') ?? [], names)) feeds.set(n, readNpyFile(p));
  const layers = args.flags.has('layers');
  const targetBackends = await resolveBackend(one(args, 'backend'), 'compare', (s) => process.stderr.write(`${s}\n`));
  const { outputs, layers: inner = [] } = await compare(src, dst, feeds, { layers, targetBackends, requantization });
  if (args.flags.has('json')) print(JSON.stringify({ outputs, layers: layers ? inner : undefined }, null, 2));
  else {
    print(`${dstFile} against ${srcFile}:`);
    print('outputs:');
    outputs.forEach((d) => print(row(d)));
    if (layers) {
      print(`layers (${inner.length} tensors with the same name in both):`);
      inner.forEach((d) => print(row(d)));
    }
  }
  if (atol !== undefined && outputs.some((d) => d.mismatch || !(d.maxAbs <= atol))) {
    print(`max abs error above --atol ${atol}`);
    return 2;
  }
}

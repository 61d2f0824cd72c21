import { convert, loadModelFiles, transplantWeights } from '../../index.js';
import { UsageError } from '../../ir/errors.js';
import { assertNotAnInput, readFileBytes } from '../../io/files.js';
import { checkOutputPath, modelOutputFiles, writeOutputFiles } from '../../io/writer.js';
import { parseNameMapping, type TransplantReport } from '../../index.js';
import { one, parseArgs } from '../args.js';
import { checkpointSource } from '../tf-options.js';

export const TRANSPLANT_HELP = `usage: nnport transplant WEIGHTS [MORE FILES...] --into MODEL [--into MORE ...] -o OUT [--mapping names.json] [--allow-partial]

Fills MODEL's weights from WEIGHTS (.pth/.pt, .safetensors, .npz, a TensorFlow frozen .pb,
checkpoint prefix / .index / folder or SavedModel, or another model) by name, fixing layouts
per layer type (TensorFlow and Keras layouts agree: none), and writes the result to OUT.
  --into MODEL        the model whose structure is kept (.onnx); repeat for each file of a
                      model made of several, the model first; or give its folder
  -o, --output OUT    where to write the filled model
  --mapping FILE      JSON object of source name -> target name, applied before matching
  --allow-partial     report shape mismatches instead of failing
  --key PATH          container of WEIGHTS to use in a nested checkpoint (e.g. model)
  --report FILE       also write the full report as JSON
  --json              print the report as JSON`;

function printReport(r: TransplantReport, print: (s: string) => void): void {
  print(`matched ${r.matched.length}, skipped ${r.skipped.length}, unmatched source ${r.unmatchedSource.length}, unmatched target ${r.unmatchedTarget.length}, shape-mismatched ${r.shapeMismatched.length}`);
  for (const m of r.matched.filter((x) => x.via !== 'exact' || x.layout)) {
    print(`  ${m.source} -> ${m.target}${m.alias ? ` (via ${m.alias})` : ''} [${m.via}${m.layout ? `, ${m.layout}` : ''}]`);
  }
  for (const s of r.shapeMismatched) print(`  shape mismatch: ${s.source} [${s.sourceShape.join(', ')}] vs ${s.target} [${s.targetShape.join(', ')}]: ${s.reason}`);
  for (const s of r.unmatchedSource) print(`  unmatched source: ${s.source} (${s.reason})`);
  for (const t of r.unmatchedTarget) print(`  unmatched target: ${t} (kept its old values)`);
}

export async function transplantCommand(argv: string[], print: (s: string) => void): Promise<void> {
  const args = parseArgs(
    argv,
    [
      { name: 'into', value: true, repeat: true },
      { name: 'output', short: 'o', value: true },
      { name: 'mapping', value: true },
      { name: 'allow-partial' },
      { name: 'key', value: true },
      { name: 'report', value: true },
      { name: 'json' },
    ],
    'transplant',
  );
  if (args.positional.length < 1) throw new UsageError(`transplant: which weights?\n${TRANSPLANT_HELP}`);
  const weights = args.positional;
  const into = args.values.get('into');
  const out = one(args, 'output');
  if (!into) throw new UsageError('transplant: which model to fill? give --into MODEL');
  if (!out) throw new UsageError('transplant: where to? give -o OUT');
  const mappingFile = one(args, 'mapping');
  assertNotAnInput(out, [...weights, ...into, ...(mappingFile ? [mappingFile] : [])]);
  checkOutputPath(out);
  const reportFile = one(args, 'report');
  if (reportFile) {
    assertNotAnInput(reportFile, [...weights, ...into, ...(mappingFile ? [mappingFile] : [])]);
    checkOutputPath(reportFile);
  }
  const mapping = mappingFile ? parseNameMapping(new TextDecoder().decode(readFileBytes(mappingFile)), mappingFile) : undefined;

  const source = await loadModelFiles(checkpointSource(weights, 'transplant'), { key: one(args, 'key') });
  const target = await loadModelFiles(into);
  const { model, report } = await transplantWeights(source, target, { mapping, allowPartial: args.flags.has('allow-partial') });
  const result = await convert(model, out);
  const files = modelOutputFiles(out, result.bytes, result.sidecars);
  if (reportFile) files.push([reportFile, new TextEncoder().encode(JSON.stringify(report, null, 2) + '\n')]);
  await writeOutputFiles(files);
  if (args.flags.has('json')) print(JSON.stringify(report, null, 2));
  else {
    printReport(report, print);
    print(`wrote ${out}`);
  }
}

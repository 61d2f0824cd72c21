import { UsageError } from '../ir/errors.js';

export interface OptionSpec {
  /** long name without dashes */
  name: string;
  short?: string;
  /** takes a value */
  value?: boolean;
  /** may be given more than once (values collected in order) */
  repeat?: boolean;
}

export interface ParsedArgs {
  positional: string[];
  values: Map<string, string[]>;
  flags: Set<string>;
}

/** A strict parser: unknown options and missing values are usage errors, never ignored. */
export function parseArgs(argv: string[], specs: OptionSpec[], command: string): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const out: ParsedArgs = { positional: [], values: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      out.positional.push(a);
      continue;
    }
    let name = a.replace(/^--?/, '');
    let inline: string | undefined;
    const eq = name.indexOf('=');
    if (a.startsWith('--') && eq >= 0) {
      inline = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const spec = a.startsWith('--') ? byLong.get(name) : byShort.get(name);
    if (!spec) throw new UsageError(`${command}: unknown option ${a} (see 'nnport ${command} --help')`);
    if (!spec.value) {
      out.flags.add(spec.name);
      continue;
    }
    const v = inline ?? argv[++i];
    if (v === undefined) throw new UsageError(`${command}: option --${spec.name} needs a value`);
    const list = out.values.get(spec.name) ?? [];
    if (list.length && !spec.repeat) throw new UsageError(`${command}: option --${spec.name} given twice`);
    list.push(v);
    out.values.set(spec.name, list);
  }
  return out;
}

export function one(args: ParsedArgs, name: string): string | undefined {
  return args.values.get(name)?.[0];
}

import { parseByteSize, resetResourceLimits, setResourceLimits } from '../ir/budget.js';
import { NnportError, ResourceError } from '../ir/errors.js';
import { fsError, nodeFs, resetReadLog } from '../io/files.js';
import { removeTemporaryFiles } from '../io/writer.js';
import { COMPARE_HELP, compareCommand } from './commands/compare.js';
import { CONVERT_HELP, convertCommand } from './commands/convert.js';
import { FREEZE_HELP, freezeCommand } from './commands/freeze.js';
import { INSPECT_HELP, inspectCommand } from './commands/inspect.js';
import { RUN_HELP, runCommand } from './commands/run.js';
import { TRANSPLANT_HELP, transplantCommand } from './commands/transplant.js';

type Command = { help: string; run: (argv: string[], print: (s: string) => void) => Promise<number | void> };

const COMMANDS: Record<string, Command> = {
  inspect: { help: INSPECT_HELP, run: inspectCommand },
  run: { help: RUN_HELP, run: runCommand },
  convert: { help: CONVERT_HELP, run: convertCommand },
  freeze: { help: FREEZE_HELP, run: freezeCommand },
  transplant: { help: TRANSPLANT_HELP, run: transplantCommand },
  compare: { help: COMPARE_HELP, run: compareCommand },
};

const USAGE = `nnport - convert, run and verify neural-network models

usage: nnport <command> [options]

commands:
  inspect MODEL [FILES...]   format, ops, inputs/outputs and every weight
                             (MODEL: a file or a model's folder; several files: model first)
  run MODEL --input x.npy    reference forward pass (-o out.npy, --dump DIR)
  convert MODEL -o OUT       convert to the format of OUT's extension
  transplant W --into M -o OUT  fill M's weights from W (.pth, .safetensors, .npz) by name
  compare SRC DST --input x.npy  max/mean abs error of DST's outputs (--layers: every tensor)
  freeze M.meta --outputs N -o frozen.pb  TF1 checkpoint or SavedModel -> one frozen GraphDef

  nnport <command> --help    options of one command
  --verbose                  show the full stack trace on errors
  --max-memory SIZE          most memory one tensor, or one file's decompressed/expanded
                             data, may take (default 2G; e.g. 8G, 512M)
  --max-loop-iterations N    most iterations one ONNX Loop may run (default 1000000)`;

/** A global option given as `NAME VALUE` or `NAME=VALUE`: its value (undefined when missing) and the other arguments; null when absent. */
function takeOption(args: string[], name: string): { value: string | undefined; rest: string[] } | null {
  const at = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (at < 0) return null;
  const joined = args[at]!.includes('=');
  const value = joined ? args[at]!.slice(name.length + 1) : args[at + 1];
  return { value, rest: args.filter((_, i) => i !== at && (joined || i !== at + 1)) };
}

/** Runs the CLI; returns the exit code. Errors become one line on stderr. */
export async function main(argv: string[], out = (s: string) => console.log(s), err = (s: string) => console.error(s)): Promise<number> {
  const verbose = argv.includes('--verbose');
  let rest = argv.filter((a) => a !== '--verbose');
  // --max-memory SIZE, --max-loop-iterations N: global options like --verbose (every command reads or runs models)
  resetResourceLimits();
  const memory = takeOption(rest, '--max-memory');
  if (memory) {
    rest = memory.rest;
    const bytes = memory.value === undefined ? undefined : parseByteSize(memory.value);
    if (bytes === undefined) {
      err(`nnport: --max-memory needs a size such as 4G or 512M, got '${memory.value ?? ''}'`);
      return 1;
    }
    setResourceLimits({ maxMemory: bytes });
  }
  const loops = takeOption(rest, '--max-loop-iterations');
  if (loops) {
    rest = loops.rest;
    const n = loops.value !== undefined && /^[1-9][0-9]*$/.test(loops.value) ? Number(loops.value) : NaN;
    if (!Number.isSafeInteger(n)) {
      err(`nnport: --max-loop-iterations needs a positive whole number such as 5000000, got '${loops.value ?? ''}'`);
      return 1;
    }
    setResourceLimits({ maxLoopIterations: n });
  }
  const [name, ...args] = rest;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    out(USAGE);
    return name ? 0 : 1;
  }
  if (name === '--version' || name === 'version') {
    out(await version());
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    err(`nnport: unknown command '${name}'\n\n${USAGE}`);
    return 1;
  }
  if (args.includes('--help') || args.includes('-h')) {
    out(cmd.help);
    return 0;
  }
  resetReadLog();
  try {
    return (await cmd.run(args, out)) ?? 0;
  } catch (caught) {
    removeTemporaryFiles();
    // a Node system error that escaped a command still names its path (or its system call,
    // e.g. a write on a full disk that has no path) in one typed line
    const sys = caught as { path?: unknown; code?: unknown; syscall?: unknown } | undefined;
    const where = typeof sys?.path === 'string' ? sys.path : typeof sys?.syscall === 'string' ? sys.syscall : undefined;
    let e = !(caught instanceof NnportError) && where !== undefined && typeof sys?.code === 'string' ? fsError(caught, where) : caught;
    // the last line of defence for input that is too big or too deep for the JS engine itself
    if (e instanceof RangeError && /call stack size|Invalid (typed )?array length|Array buffer allocation failed/.test(e.message)) {
      const r = new ResourceError('the input', 0, 0);
      r.message = `the input is too large or too deeply nested to process (${e.message}); please report it, with --verbose`;
      e = r;
    }
    if (e instanceof NnportError) {
      // usage errors already name their command ("run: ..."); don't say it twice
      err(`nnport ${name}: ${e.message.startsWith(`${name}: `) ? e.message.slice(name.length + 2) : e.message}`);
      if (verbose && e.stack) err(e.stack);
    } else {
      const msg = e instanceof Error ? e.message : String(e);
      err(`nnport ${name}: internal error: ${msg}${verbose ? '' : ' (run with --verbose for the stack trace)'}`);
      if (verbose && e instanceof Error && e.stack) err(e.stack);
    }
    return 1;
  }
}

async function version(): Promise<string> {
  const pkg = JSON.parse(nodeFs().readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return `nnport ${pkg.version}`;
}

// Test-file plumbing for the TFLite checks: the real interpreter started once per test file, and
// flatc's verifier/JSON view of a written .tflite. (Separate from tflite-oracle.ts, which the
// benchmarks import outside vitest.)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ByteBuffer } from 'flatbuffers';
import { afterAll, beforeAll } from 'vitest';
import { registerAllFormats } from '../../src/formats/all.js';
import { Model } from '../../src/formats/generated/tflite/model.js';
import { readTflite } from '../../src/formats/tflite/read.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { runInteger } from '../../src/runtime/integer/index.js';
import { REPO_ROOT } from './corpus.js';
import { startTfliteOracle, type TfliteOracle } from './tflite-oracle.js';

/**
 * The TFLite interpreter for the calling test file: started in its beforeAll (formats registered
 * too), closed in its afterAll. The handle may be used in the file's tests once they run.
 */
export function useTfliteOracle(startTimeoutMs = 120_000): Omit<TfliteOracle, 'close'> {
  let oracle: TfliteOracle | undefined;
  const started = (): TfliteOracle => {
    if (!oracle) throw new Error('the TFLite oracle is used before its beforeAll started it');
    return oracle;
  };
  beforeAll(async () => {
    registerAllFormats();
    oracle = await startTfliteOracle();
  }, startTimeoutMs);
  afterAll(async () => {
    await oracle?.close();
  });
  return {
    run: (model, inputs, invokes, numThreads) => started().run(model, inputs, invokes, numThreads),
    latency: (model, inputs, runs) => started().latency(model, inputs, runs),
    inputs: (model) => started().inputs(model),
  };
}

const SCHEMA = join(REPO_ROOT, 'proto/tflite/schema.fbs');

/**
 * flatc --json of a .tflite with the TFLite schema: throws on anything the flatbuffer verifier
 * rejects. `defaults` also writes fields that hold their default value (--defaults-json).
 */
export function flatcJson<T = Record<string, unknown>>(bytes: Uint8Array, name: string, options: { defaults?: boolean } = {}): T {
  const dir = mkdtempSync(join(tmpdir(), 'nnport-flatc-'));
  try {
    const file = join(dir, `${name}.tflite`);
    writeFileSync(file, bytes);
    const flags = ['--json', '--strict-json', '--raw-binary', ...(options.defaults ? ['--defaults-json'] : [])];
    execFileSync('/usr/bin/flatc', [...flags, '-o', dir, SCHEMA, '--', file], { stdio: 'pipe' });
    return JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What flatc's JSON of a .tflite has for naming its operators' builtin ops, with the fields a test
 * reads besides of each operator (`Op`) and each subgraph (`Sub`).
 */
export interface FlatcOps<Op extends object = object, Sub extends object = object> {
  /** builtin_code is left out when it is ADD (0, the field's default) */
  operator_codes: { builtin_code?: string }[];
  subgraphs: Array<Sub & { operators: Array<Op & { opcode_index?: number }> }>;
}

/** The builtin op of one operator of flatc's JSON (flatc leaves out ADD, code 0). */
export const opNameOf = (json: FlatcOps, op: { opcode_index?: number }): string => json.operator_codes[op.opcode_index ?? 0]!.builtin_code ?? 'ADD';

/** The builtin op of each operator of the JSON's first subgraph, in order. */
export const opNamesOf = (json: FlatcOps): string[] => json.subgraphs[0]!.operators.map((o) => opNameOf(json, o));

/** The builtin op of each operator of the file's first subgraph, in order (flatc leaves out ADD, code 0). */
export function tfliteOpNames(bytes: Uint8Array, name: string): string[] {
  return opNamesOf(flatcJson<FlatcOps>(bytes, name));
}

/**
 * nnport's integer runtime on a quantized .tflite against the interpreter's output `theirs` for the
 * same input: the largest difference, in LSBs of the file's (dequantized) output.
 */
/** integerRuntimeLsbOff for every output of the file: the runtime's largest distance from `theirs[j]`, in LSB of output j's grid. */
export async function integerRuntimeLsbOffEach(file: Uint8Array, input: Tensor, theirs: ArrayLike<number>[], options: { requantization?: 'xnnpack' } = {}): Promise<number[]> {
  const back = await readTflite(file);
  const mine = [...(await runInteger(back, { [back.inputs[0]!.name]: input }, options)).outputs.values()];
  return back.outputs.map((o, j) => {
    const dq = back.nodes.find((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === o.name)!;
    const lsb = back.initializers.get(dq.inputs[1]!)!.toNumbers()[0]!;
    const a = mine[j]!.toFloat32();
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - theirs[j]![i]!) / lsb);
    return worst;
  });
}

export async function integerRuntimeLsbOff(file: Uint8Array, input: Tensor, theirs: ArrayLike<number>, options: { requantization?: 'xnnpack' } = {}): Promise<number> {
  const back = await readTflite(file);
  const { outputs } = await runInteger(back, { [back.inputs[0]!.name]: input }, options);
  const mine = [...outputs.values()][0]!.toFloat32();
  const dq = back.nodes.find((n) => n.opType === 'DequantizeLinear' && n.outputs[0] === back.outputs[0]!.name)!;
  const lsb = back.initializers.get(dq.inputs[1]!)!.toNumbers()[0]!;
  let worst = 0;
  for (let i = 0; i < theirs.length; i++) worst = Math.max(worst, Math.abs(mine[i]! - theirs[i]!) / lsb);
  return worst;
}

/**
 * The file with dim `axis` of its input's (graph input `input`'s) stored shape set to `size` (what ResizeInputTensor does
 * before AllocateTensors; tfjs-tflite has no resize call): the interpreter sizes the rest from its ops.
 */
export function withStoredDim(bytes: Uint8Array, axis: number, size: number, input = 0): Uint8Array {
  const out = bytes.slice();
  const bb = new ByteBuffer(out);
  const sg = Model.getRootAsModel(bb).subgraphs(0)!;
  const t = sg.tensors(sg.inputs(input)!)!;
  // Tensor.shape is field 0: vtable slot 4
  const at = bb.__vector(t.bb_pos + bb.__offset(t.bb_pos, 4));
  bb.writeInt32(at + 4 * axis, size);
  return out;
}

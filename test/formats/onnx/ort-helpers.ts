// Running models in onnxruntime-node, the independent runtime every ONNX test compares against.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { ValueInfo } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { rng } from '../../support/rng.js';
import { toOrt } from '../../support/ort.js';
export { rng };

export { toOrt };

export type OrtOutputs = Record<string, { type: string; dims: readonly number[]; bytes: Uint8Array | string[] }>;

/** Runs a model (bytes, or a path so ort resolves external data next to it) on `feeds`. */
export async function runOrt(model: Uint8Array | string, feeds: Record<string, Tensor>): Promise<OrtOutputs> {
  // severity 3 = errors only: old-opset models otherwise log a warning per session
  const options = { logSeverityLevel: 3 as const };
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) inputs[k] = toOrt(v);
    const result = await session.run(inputs);
    const out: OrtOutputs = {};
    for (const [k, v] of Object.entries(result)) {
      const data = v.data as ArrayBufferView | string[];
      out[k] = {
        type: v.type,
        dims: [...v.dims],
        bytes: Array.isArray(data) ? [...data] : new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
      };
    }
    return out;
  } finally {
    await session.release();
  }
}


/** A random tensor for a graph input; symbolic or unknown dims become 1. */
export function randomInput(v: ValueInfo, random: () => number): Tensor {
  const shape = (v.shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : 1));
  const t = Tensor.zeros(v.dtype, shape);
  const d = t.data as unknown as { length: number; [i: number]: number | bigint };
  for (let i = 0; i < d.length; i++) {
    const x = random() * 2 - 1;
    if (v.dtype === 'float32' || v.dtype === 'float64') d[i] = x;
    else if (v.dtype === 'int64' || v.dtype === 'uint64') d[i] = BigInt(Math.floor(random() * 5));
    else if (v.dtype === 'bool') d[i] = random() < 0.5 ? 1 : 0;
    else d[i] = Math.floor(random() * 5);
  }
  return t;
}

/**
 * onnx's own verdict on pairs of models (test/formats/onnx/onnx-equal.py, one python process
 * for all pairs): an empty `diffs` means the same graph and bit-identical tensors.
 */
export function onnxEqual(pairs: { original: string; ours: string; dir?: string }[]): { checker: string; diffs: string[] }[] {
  if (!pairs.length) return [];
  const script = fileURLToPath(new URL('./onnx-equal.py', import.meta.url));
  const input = pairs.map((p) => `${p.original}\t${p.ours}\t${p.dir ?? '.'}\n`).join('');
  const out = execFileSync('/usr/bin/python3', [script, '--batch'], { input, maxBuffer: 64 << 20 }).toString();
  return out.trim().split('\n').map((l) => JSON.parse(l) as { checker: string; diffs: string[] });
}

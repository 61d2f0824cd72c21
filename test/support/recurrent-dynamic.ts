// The PyTorch recurrent nets of scripts/fixtures/recurrent_dynamic_models.py (ONNX with a dynamic
// sequence axis; inputs and PyTorch's outputs at sequence lengths 5 and 11), shared by the TFLite
// and GraphDef / TF.js tests of recurrent layers written as a loop over their time steps.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../../src/formats/numpy/index.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { ensureScriptFixtures } from './fixture-script.js';

export const DYNAMIC_RECURRENT_NETS = ['gru', 'lstm_states', 'gru_bidi', 'lstm_2layer', 'rnn_relu'] as const;
export type DynamicRecurrentNet = (typeof DYNAMIC_RECURRENT_NETS)[number];
export const SEQUENCE_LENGTHS = [5, 11] as const;

const folder = (): string => ensureScriptFixtures('recurrent_dynamic_models.py', 'recurrent-dynamic', DYNAMIC_RECURRENT_NETS);

const numbered = (dir: string, prefix: string): Tensor[] => {
  const out: Tensor[] = [];
  for (let k = 0; existsSync(join(dir, `${prefix}_${k}.npy`)); k++) out.push(readNpy(readFileSync(join(dir, `${prefix}_${k}.npy`))));
  return out;
};

export interface DynamicRecurrentCase {
  t: number;
  /** the model's inputs (x first) */
  feeds: Tensor[];
  /** PyTorch's outputs, in the ONNX file's output order */
  want: Tensor[];
}

/** The ONNX file of `net`, its cases at both sequence lengths, and its calibration inputs [8, ...x]. */
export function dynamicRecurrentNet(net: DynamicRecurrentNet): { onnx: Uint8Array; cases: DynamicRecurrentCase[]; calib: Tensor } {
  const dir = join(folder(), net);
  return {
    onnx: new Uint8Array(readFileSync(join(dir, 'model.onnx'))),
    cases: SEQUENCE_LENGTHS.map((t) => ({ t, feeds: numbered(dir, `in_${t}`), want: numbered(dir, `out_${t}`) })),
    calib: readNpy(readFileSync(join(dir, 'calib.npy'))),
  };
}

/** Whether the net's x is batch-major ([B, T, F]: its time axis 1) rather than time-major. */
export const batchFirst = (net: DynamicRecurrentNet): boolean => net === 'gru' || net === 'gru_bidi' || net === 'lstm_2layer';

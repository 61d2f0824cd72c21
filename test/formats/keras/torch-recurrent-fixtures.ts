// The PyTorch nn.LSTM / nn.GRU / nn.RNN exports of scripts/fixtures/recurrent_torch.py (ONNX model,
// input and PyTorch's output per fixture) that the Keras writer tests read, each test file in a
// cache folder of its own (two files may export at the same time).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../../../src/ir/tensor.js';
import { REPO_ROOT } from '../../support/corpus.js';

/** Every fixture the Keras writers are tested on: name, time-major I/O, the Keras layer classes expected. */
export const TORCH_RECURRENT_CASES: Array<[string, boolean, string[]]> = [
  // name, time-major I/O, the Keras layer classes expected
  ['lstm_bf_last', false, ['LSTM', 'Dense']],
  ['lstm_bf2_seq', false, ['LSTM', 'LSTM', 'Dense']],
  ['lstm_tm_bidi_seq', true, ['Bidirectional', 'Dense']],
  ['lstm_bidi_last', false, ['Bidirectional', 'Bidirectional', 'Reshape', 'Cropping2D', 'Reshape', 'Dense']],
  ['lstm_hn', false, ['LSTM', 'Dense']],
  ['lstm_bidi_hn', false, ['Bidirectional', 'Concatenate', 'Dense']],
  ['lstm2_hn', false, ['LSTM', 'LSTM', 'Dense']],
  ['gru_bf_seq', false, ['GRU']],
  ['gru_bf_last', false, ['GRU', 'Dense']],
  ['gru_bidi_seq', false, ['Bidirectional', 'Dense']],
  ['gru2_bidi_hn', false, ['Bidirectional', 'Bidirectional', 'Concatenate', 'Dense']],
  ['rnn_tanh_last', false, ['SimpleRNN', 'Dense']],
  ['rnn_relu2_seq', true, ['SimpleRNN', 'SimpleRNN', 'Dense']],
  ['rnn_bidi_seq', false, ['Bidirectional', 'Dense']],
  // dynamic batch and time: the Keras input is [None, None, 5]
  ['lstm_dyn_last', false, ['LSTM', 'Dense']],
  ['lstm_dyn_bidi_seq', false, ['Bidirectional', 'Dense']],
  ['rnn_dyn_tm_seq', true, ['SimpleRNN', 'Dense']],
];

export interface TorchRecurrentFixture {
  onnx: Uint8Array;
  input: Tensor;
  output: Tensor;
}

/** The fixtures in `dir` (under the repo root), exported again when one of `used` is missing (an older script's cache). */
export function exportTorchRecurrent(dir: string, used: readonly string[]): void {
  const done = join(REPO_ROOT, dir, 'done.json');
  if (existsSync(done) && used.every((m) => (JSON.parse(readFileSync(done, 'utf8')) as { models: string[] }).models.includes(m))) return;
  execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/recurrent_torch.py'), '--out', join(REPO_ROOT, dir)], { stdio: 'pipe' });
}

export function torchRecurrentFixture(dir: string, name: string): TorchRecurrentFixture {
  const at = join(REPO_ROOT, dir);
  const j = JSON.parse(readFileSync(join(at, `${name}.json`), 'utf8')) as Record<'input' | 'output', { shape: number[]; data: number[] }>;
  return { onnx: new Uint8Array(readFileSync(join(at, `${name}.onnx`))), input: Tensor.float32(j.input.shape, j.input.data), output: Tensor.float32(j.output.shape, j.output.data) };
}

/** [T, B, ...] <-> [B, T, ...] */
export function swap01(t: Tensor): Tensor {
  const [a, b, ...rest] = t.shape as number[];
  const inner = rest.reduce((x, y) => x * y, 1);
  const src = t.toFloat32();
  const out = new Float32Array(src.length);
  for (let i = 0; i < a!; i++) for (let j = 0; j < b!; j++) out.set(src.subarray((i * b! + j) * inner, (i * b! + j + 1) * inner), (j * a! + i) * inner);
  return Tensor.float32([b!, a!, ...rest], out);
}

// nnport's integer runtime on int8 and int16x8 TRANSPOSE_CONV (src/runtime/integer/transpose-conv.ts:
// int32 / int64 accumulation of the scatter, TFLite's per-channel fixed-point requantization) against
// the real TFLite interpreter: PyTorch ConvTranspose2d exports (scripts/fixtures/convtranspose_torch.py:
// strides 2 and (2, 3), padding, output_padding, dilation and groups as the writer expands them, 1-D;
// scripts/fixtures/transpose_conv_int_models.py: stride 1 without bias, stride 3, a 1x1 kernel under
// stride 2, a 16 -> 24 -> 8 channel chain) and the corpus' ONNX backend convtranspose2d, quantized with
// random calibration, 0 LSB off the interpreter for every input tried. Before, the runtime ran
// TRANSPOSE_CONV as dequantize / float ConvTranspose / quantize: 1 LSB off on some outputs (int8:
// the corpus model and the decoder; int16x8: every model here). The interpreter runs int8
// TRANSPOSE_CONV on TFLite's builtin kernel, not XNNPACK: XNNPACK's float32 requantization put 2 of
// the corpus model's 960 outputs 1 LSB off, so both `requantization` modes use the fixed point.
// Found on the way: a ReLU right after a ConvTranspose left the TRANSPOSE_CONV's output a float
// tensor between int8 ops (the quantizer planned the ReLU fused; the writer fuses none into
// TRANSPOSE_CONV), a file the interpreter could not initialize (`wide`).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../../src/formats/numpy/index.js';
import { readTflite } from '../../../src/formats/tflite/read.js';
import { writeTflite } from '../../../src/formats/tflite/write.js';
import { loadModel, loadModelFiles } from '../../../src/index.js';
import type { Graph } from '../../../src/ir/graph.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { permuteTensor } from '../../../src/passes/layout.js';
import { fuseQdqIslands, runInteger } from '../../../src/runtime/integer/index.js';
import { initKernels } from '../../../src/wasm/loader.js';
import { corpusPath, REPO_ROOT } from '../../support/corpus.js';
import { pooledSnrDb } from '../../support/error-metrics.js';
import { ensureScriptFixtures } from '../../support/fixture-script.js';
import { rng } from '../../support/rng.js';
import { integerRuntimeLsbOff, tfliteOpNames, useTfliteOracle } from '../../support/tflite-test.js';

const oracle = useTfliteOracle();
const TORCH = ['ct2d_p1_op1', 'ct2d_same', 'ct2d_extend', 'ct2d_dil_group', 'ct1d', 'decoder'] as const;
const NEW = ['s1_nobias', 's3_pad_op', 'k1_s2', 'wide'] as const;
const TORCH_CACHE = join(REPO_ROOT, '.fixtures-cache/convtranspose');
let newCache = '';

beforeAll(async () => {
  await initKernels();
  if (TORCH.some((n) => !existsSync(join(TORCH_CACHE, n, 'output.npy')))) execFileSync('/usr/bin/python3', [join(REPO_ROOT, 'scripts/fixtures/convtranspose_torch.py'), '--out', TORCH_CACHE], { stdio: ['ignore', 'ignore', 'pipe'] });
  newCache = ensureScriptFixtures('transpose_conv_int_models.py', 'transpose-conv-int', NEW);
}, 300_000);

/** NC(H)W -> N(H)WC */
const channelsLast = (t: Tensor): Tensor => permuteTensor(t, t.rank === 4 ? [0, 2, 3, 1] : [0, 2, 1]);

function uniformSamples(shape: number[], count: number, seed: number): Tensor[] {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => Tensor.float32(shape, Float32Array.from({ length: size }, () => r() * 2 - 1)));
}

interface Case {
  graph: Graph;
  /** PyTorch's input and output (channels-last), where the case has them */
  torch?: { x: Tensor; y: Tensor };
  /** arithmetic besides TRANSPOSE_CONV that the interpreter runs through XNNPACK (the decoder's CONV_2D) */
  xnnpackOnly?: boolean;
}

async function torchCase(dir: string, name: string): Promise<Case> {
  const model = await loadModel(new Uint8Array(readFileSync(join(dir, name, 'model.onnx'))), { fileName: `${name}.onnx` });
  const npy = (f: string) => channelsLast(readNpy(new Uint8Array(readFileSync(join(dir, name, f))), f));
  return { graph: (model as { graph: Graph }).graph, torch: { x: npy('input.npy'), y: npy('output.npy') }, xnnpackOnly: name === 'decoder' };
}

async function caseOf(name: string): Promise<Case> {
  if ((TORCH as readonly string[]).includes(name)) return torchCase(TORCH_CACHE, name);
  if ((NEW as readonly string[]).includes(name)) return torchCase(newCache, name);
  const model = await loadModelFiles([corpusPath('onnx/onnx-backend-convtranspose2d')]);
  return { graph: (model as { graph: Graph }).graph };
}

describe('int8 / int16x8 TRANSPOSE_CONV: nnport integer runtime vs the TFLite interpreter', () => {
  for (const name of [...TORCH, ...NEW, 'corpus onnx-backend-convtranspose2d']) {
    it(`${name}: int8 and int16x8, 0 LSB off the interpreter (both requantization modes), interpreter close to PyTorch`, { timeout: 300_000 }, async () => {
      const c = await caseOf(name);
      const inShape = (c.graph.inputs[0]!.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
      const nhwc = inShape.length === 4 ? [inShape[0]!, inShape[2]!, inShape[3]!, inShape[1]!] : [inShape[0]!, inShape[2]!, inShape[1]!];
      // PyTorch's standard-normal input in the calibration too: its range past [-1, 1] is not clipped
      const calibration = [...uniformSamples(nhwc, 16, 5), ...(c.torch ? [c.torch.x] : [])].map((t) => [t]);
      for (const mode of ['int8', 'int16x8'] as const) {
        const bytes = await writeTflite(c.graph, { fileName: 'm.tflite', quantize: { mode, calibration } });
        expect(tfliteOpNames(bytes, 'm')).toContain('TRANSPOSE_CONV');
        // every TRANSPOSE_CONV runs on the integer kernel, none as float
        const fused = fuseQdqIslands(await readTflite(bytes));
        expect(fused.nodes.filter((n) => n.opType === 'ConvTranspose').map((n) => n.domain)).toEqual(tfliteOpNames(bytes, 'm').filter((o) => o === 'TRANSPOSE_CONV').map(() => 'nnport.int'));
        for (const x of [...uniformSamples(nhwc, 2, 9), ...(c.torch ? [c.torch.x] : [])]) {
          const [theirs] = await oracle.run(bytes, [x.toFloat32()]);
          const want = theirs!.data as Float32Array;
          const xnn = await integerRuntimeLsbOff(bytes, x, want, { requantization: 'xnnpack' });
          const ref = await integerRuntimeLsbOff(bytes, x, want);
          expect(xnn, `${name} ${mode}: XNNPACK requantization`).toBe(0);
          if (!c.xnnpackOnly || mode === 'int16x8') expect(ref, `${name} ${mode}: reference requantization`).toBe(0);
          else expect(ref).toBeLessThanOrEqual(1.0001);
        }
        if (c.torch) {
          const [theirs] = await oracle.run(bytes, [c.torch.x.toFloat32()]);
          const snr = pooledSnrDb([c.torch.y.toFloat32()], [theirs!.data as Float32Array]);
          console.log(`${name} ${mode}: interpreter vs PyTorch SNR ${snr.toFixed(1)} dB`);
          expect(snr).toBeGreaterThan(mode === 'int8' ? 30 : 38);
        }
      }
    });
  }

  it('the TypeScript and the default (WASM) kernels option give the same bits (one scalar kernel serves both)', async () => {
    const c = await caseOf('wide');
    const bytes = await writeTflite(c.graph, { fileName: 'm.tflite', quantize: { mode: 'int8', calibration: uniformSamples([1, 6, 6, 16], 8, 5).map((t) => [t]) } });
    const back = await readTflite(bytes);
    const x = uniformSamples([1, 6, 6, 16], 1, 21)[0]!;
    const run = async (kernels: 'wasm' | 'typescript') => [...(await runInteger(back, { [back.inputs[0]!.name]: x }, { kernels })).outputs.values()][0]!.toFloat32();
    expect(await run('typescript')).toEqual(await run('wasm'));
  });
});

// PyTorch's own post-training int8 quantization (scripts/fixtures/torch_int8_reference.py: FX graph
// mode, QNNPACK, MinMax observers, per-channel weights) of the same model on the same photo sets:
// the independent reference nnport's int8 accuracy is put beside.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy } from '../../src/formats/numpy/index.js';
import { REPO_ROOT } from './corpus.js';

export interface TorchInt8Reference {
  /** PyTorch's float outputs on the held-out inputs, one per input */
  float: Float32Array[];
  /** PyTorch's int8 model (MinMax observers) on them */
  int8: Float32Array[];
  /** pooled SNR of int8 against float, as pooledSnrDb */
  snrDb: number;
}

/**
 * Runs the script on photo-set folders made by makePhotoSet (their npy/*.npy, NHWC); `model` is a
 * torchvision fixture name or 'trained' (then `weights`: the dequantized MobileNet-v2 as .onnx).
 */
export function torchInt8Reference(model: 'resnet18' | 'mobilenet_v2' | 'trained', calibration: string, heldOut: string, out: string, weights?: string): TorchInt8Reference {
  const args = [join(REPO_ROOT, 'scripts/fixtures/torch_int8_reference.py'), '--model', model, '--calibration', calibration, '--held-out', heldOut, '--out', out, '--configs', 'minmax'];
  if (weights) args.push('--weights', weights);
  execFileSync('/usr/bin/python3', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const rows = (file: string): Float32Array[] => {
    const t = readNpy(readFileSync(join(out, file)), file);
    const data = t.toFloat32();
    const n = t.shape[0] as number;
    const size = data.length / n;
    return Array.from({ length: n }, (_, k) => data.slice(k * size, (k + 1) * size));
  };
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { minmax: { snr_db: number } };
  return { float: rows('float.npy'), int8: rows('minmax.npy'), snrDb: result.minmax.snr_db };
}

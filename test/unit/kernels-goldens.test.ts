// The SIMD kernels against NumPy / PyTorch goldens (scripts/fixtures/numpy_goldens.py).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../../src/formats/numpy/npy-read.js';
import { Tensor } from '../../src/ir/tensor.js';
import { float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from '../../src/wasm/half.js';
import { dequantizePerTensor, quantizePerAxis, quantizePerTensor } from '../../src/wasm/quantize.js';

const dir = new URL('../fixtures/numpy/', import.meta.url);
const npy = (name: string) => readNpy(new Uint8Array(readFileSync(new URL(`${name}.npy`, dir))), name);

function sameBits(a: ArrayBufferView, b: ArrayBufferView, what: string): void {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  expect(x.length, what).toBe(y.length);
  let bad = -1;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) {
    bad = i;
    break;
  }
  expect(bad, `${what}: first differing byte`).toBe(-1);
}

describe('NumPy goldens', () => {
  it('float16 -> float32 over all 65536 bit patterns (NaN payloads too)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    sameBits(float16ToFloat32(all), npy('f16_to_f32').data as Uint32Array, 'f16_to_f32');
  });

  it('float32 -> float16: every float16, every tie, one ulp either side, random patterns', () => {
    const x = npy('f32_to_f16_x').data as Uint32Array;
    const f = new Float32Array(x.buffer, x.byteOffset, x.length);
    sameBits(float32ToFloat16(f), npy('f32_to_f16_y').data as Uint16Array, 'f32_to_f16');
  });

  it('float32 -> bfloat16 (PyTorch)', () => {
    const x = npy('f32_to_bf16_x').data as Uint32Array;
    sameBits(float32ToBfloat16(new Float32Array(x.buffer, x.byteOffset, x.length)), npy('f32_to_bf16_y').data as Uint16Array, 'f32_to_bf16');
  });

  it('int8 per-channel: np.round (half-even) and half-away-from-zero', () => {
    const x = npy('q_int8_axis0_x') as Tensor;
    const scales = npy('q_int8_axis0_scales').data as Float32Array;
    const zps = npy('q_int8_axis0_zps').data as Int32Array;
    for (const [rounding, name] of [['half-even', 'q_int8_axis0_half_even'], ['half-away', 'q_int8_axis0_half_away']] as const) {
      const q = quantizePerAxis(x, 0, scales, zps, { dtype: 'int8', rounding });
      sameBits(q.data as Int8Array, npy(name).data as Int8Array, name);
    }
  });

  it('uint8 per-tensor quantize and dequantize', () => {
    const x = npy('q_uint8_x').data as Float32Array;
    for (const [rounding, name] of [['half-even', 'q_uint8_half_even'], ['half-away', 'q_uint8_half_away']] as const) {
      sameBits(quantizePerTensor(x, 0.0235, 131, { dtype: 'uint8', rounding }).data as Uint8Array, npy(name).data as Uint8Array, name);
    }
    const q = quantizePerTensor(x, 0.0235, 131, { dtype: 'uint8', rounding: 'half-even' });
    sameBits(dequantizePerTensor(q, 0.0235, 131).data as Float32Array, npy('dq_uint8_y').data as Float32Array, 'dq_uint8');
  });
});

// What every WebGPU kernel needs: the runner of the device in use and input checks.
import { UsageError } from '../../ir/errors.js';
import type { Tensor } from '../../ir/tensor.js';
import type { GpuRunner } from '../runner.js';

let active: GpuRunner | undefined;

/** Set by the backend's ready() once a device exists. */
export function setRunner(r: GpuRunner | undefined): void {
  active = r;
}

/** The runner of the GPU device (the backend is ready before any of its kernels runs). */
export function gpu(): GpuRunner {
  if (!active) throw new UsageError('the webgpu backend ran a kernel before it was ready');
  return active;
}

/** A float32 tensor with at least one element. */
export const isF32 = (t: Tensor | undefined): t is Tensor => !!t && t.dtype === 'float32';

/** Whether `t` can be read on the host now (a scalar bound, a shape). */
export const onHost = (t: Tensor | undefined): boolean => !t || t.onHost;

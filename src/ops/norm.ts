import source from '../../kernels/rms_norm.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { bytesPerActivation, grid, params, type Recorder } from '../gpu';
import type { QuantMatrix } from './weights';

const rmsNormKernel = { name: 'rms_norm', source };
/**
 * Invocations per row: 64 up to 1024 columns (≤ 16 values each; fewer idle lanes and reduction steps,
 * and more rows resident at once in a prefill), 256 for wider rows (4096-wide models). llama.cpp's CUDA
 * rms_norm likewise uses a small block below 1024 columns and a large one above.
 */
const workgroupSize = (cols: number) => (cols <= 1024 ? 64 : 256);

export interface RmsNormArgs {
  /** Input activations [rows, cols]. */
  x: GPUBuffer;
  /** The norm weight: cols f32 values (GGUF stores norms as F32), as a buffer or a one-row F32 QuantMatrix. */
  weight: GPUBuffer | QuantMatrix;
  /** Output activations [rows, cols]; must not be `x` (WebGPU forbids binding one buffer as both). */
  out: GPUBuffer;
  rows: number;
  cols: number;
  /** The model's `attention.layer_norm_rms_epsilon` (e.g. 1e-6). */
  eps: number;
}

/** out[r, i] = x[r, i] / sqrt(mean(x[r, :]²) + eps) · weight[i]. */
export function rmsNorm(rec: Recorder, { x, weight, out, rows, cols, eps }: RmsNormArgs): void {
  const what = 'rmsNorm';
  if (!isCount(rows) || !isCount(cols)) throw new InvalidArgumentError(`${what}: rows (${rows}) and cols (${cols}) must be positive integers`);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new InvalidArgumentError(`${what}: eps ${eps} must be a finite number ≥ 0`);
  const weightBuffer = weightBufferOf(weight, cols, what);
  const bytes = rows * cols * bytesPerActivation(rec.gpu);
  if (x.size < bytes) throw new InvalidArgumentError(`${what}: x holds ${x.size} bytes, [${rows}, ${cols}] activations need ${bytes}`);
  if (out.size < bytes) throw new InvalidArgumentError(`${what}: out holds ${out.size} bytes, [${rows}, ${cols}] activations need ${bytes}`);
  if (weightBuffer.size < cols * 4) throw new InvalidArgumentError(`${what}: weight holds ${weightBuffer.size} bytes, ${cols} f32 values need ${cols * 4}`);
  if (x === out) throw new InvalidArgumentError(`${what}: out must be a different buffer from x`);
  const pipeline = rec.gpu.pipelines.get(rmsNormKernel, { precision: rec.gpu.precision, constants: { WG: workgroupSize(cols) } });
  rec.dispatch(pipeline, params().u32(rows).u32(cols).f32(eps), [x, weightBuffer, out], grid(rec.gpu, rows));
}

function weightBufferOf(weight: GPUBuffer | QuantMatrix, cols: number, what: string): GPUBuffer {
  if (!('data' in weight)) return weight;
  if (weight.type !== 'F32') throw new InvalidArgumentError(`${what}: the norm weight is ${weight.type}; only F32 norm weights are supported`);
  if (weight.rows * weight.cols !== cols) {
    throw new InvalidArgumentError(`${what}: the norm weight holds ${weight.rows}×${weight.cols} values, expected ${cols}`);
  }
  if (weight.data.shards.length !== 1) throw new InvalidArgumentError(`${what}: the norm weight is split over several bindings`);
  return weight.data.shards[0]!.buffer;
}

function isCount(n: number): boolean {
  return Number.isInteger(n) && n > 0;
}

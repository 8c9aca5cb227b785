import source from '../../kernels/rms_norm.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { grid, uniforms, type Recorder } from '../gpu';
import { needActivations, needBytes, needCount, needDistinct } from './checks';
import type { QuantMatrix } from './weights';

const rmsNormKernel = { name: 'rms_norm', source, uniforms: uniforms({ rows: 'u32', cols: 'u32', eps: 'f32' }) };
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
  needCount(what, 'rows', rows);
  needCount(what, 'cols', cols);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new InvalidArgumentError(`${what}: eps ${eps} must be a finite number ≥ 0`);
  const weightBuffer = weightBufferOf(weight, cols, what);
  needActivations(rec.gpu, what, 'x', x, rows * cols, `[${rows}, ${cols}]`);
  needActivations(rec.gpu, what, 'out', out, rows * cols, `[${rows}, ${cols}]`);
  needBytes(what, 'weight', weightBuffer, cols * 4, `${cols} f32 values`);
  needDistinct(what, ['out', out], [['x', x]]);
  const pipeline = rec.gpu.pipelines.get(rmsNormKernel, { precision: rec.gpu.precision, constants: { WG: workgroupSize(cols) } });
  rec.dispatch(pipeline, rmsNormKernel.uniforms.pack({ rows, cols, eps }), [x, weightBuffer, out], grid(rec.gpu, rows));
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

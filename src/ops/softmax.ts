import source from '../../kernels/softmax.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { bytesPerActivation, grid, params, type Recorder } from '../gpu';

const softmaxKernel = { name: 'softmax', source };
const WG = 256;

export interface SoftmaxArgs {
  /** Input [rows, cols] (e.g. logits). */
  x: GPUBuffer;
  /** Output [rows, cols]; a buffer distinct from x. */
  out: GPUBuffer;
  rows: number;
  cols: number;
  /** Sampling temperature: the rows are divided by it before the softmax. Default 1. */
  temperature?: number;
}

/** out[r, :] = softmax(x[r, :] / temperature), computed with the row max subtracted (no overflow). */
export function softmax(rec: Recorder, { x, out, rows, cols, temperature = 1 }: SoftmaxArgs): void {
  const what = 'softmax';
  if (!Number.isInteger(rows) || rows <= 0 || !Number.isInteger(cols) || cols <= 0) {
    throw new InvalidArgumentError(`${what}: rows (${rows}) and cols (${cols}) must be positive integers`);
  }
  // The kernel multiplies by 1/temperature as an f32: that must be a positive finite f32 too.
  if (!(temperature > 0) || !Number.isFinite(temperature) || !Number.isFinite(Math.fround(1 / temperature))) {
    throw new InvalidArgumentError(`${what}: temperature ${temperature} must be a finite number > 0 (greedy decoding is argmax, not a zero temperature)`);
  }
  const bytes = rows * cols * bytesPerActivation(rec.gpu);
  if (x.size < bytes) throw new InvalidArgumentError(`${what}: x holds ${x.size} bytes, [${rows}, ${cols}] activations need ${bytes}`);
  if (out.size < bytes) throw new InvalidArgumentError(`${what}: out holds ${out.size} bytes, [${rows}, ${cols}] activations need ${bytes}`);
  if (x === out) throw new InvalidArgumentError(`${what}: out must be a different buffer from x`);
  const pipeline = rec.gpu.pipelines.get(softmaxKernel, { precision: rec.gpu.precision, constants: { WG } });
  rec.dispatch(pipeline, params().u32(rows).u32(cols).f32(1 / temperature), [x, out], grid(rec.gpu, rows));
}

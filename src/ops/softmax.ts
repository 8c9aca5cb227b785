import source from '../../kernels/softmax.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { grid, uniforms, type Recorder } from '../gpu';
import { needActivations, needCount, needDistinct } from './checks';

const softmaxKernel = { name: 'softmax', source, uniforms: uniforms({ rows: 'u32', cols: 'u32', scale: 'f32' /* 1 / temperature */ }) };
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
  needCount(what, 'rows', rows);
  needCount(what, 'cols', cols);
  // The kernel multiplies by 1/temperature as an f32: that must be a positive finite f32 too.
  if (!(temperature > 0) || !Number.isFinite(temperature) || !Number.isFinite(Math.fround(1 / temperature))) {
    throw new InvalidArgumentError(`${what}: temperature ${temperature} must be a finite number > 0 (greedy decoding is argmax, not a zero temperature)`);
  }
  needActivations(rec.gpu, what, 'x', x, rows * cols, `[${rows}, ${cols}]`);
  needActivations(rec.gpu, what, 'out', out, rows * cols, `[${rows}, ${cols}]`);
  needDistinct(what, ['out', out], [['x', x]]);
  const pipeline = rec.gpu.pipelines.get(softmaxKernel, { precision: rec.gpu.precision, constants: { WG } });
  rec.dispatch(pipeline, softmaxKernel.uniforms.pack({ rows, cols, scale: 1 / temperature }), [x, out], grid(rec.gpu, rows));
}

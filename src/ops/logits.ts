import adjustSource from '../../kernels/logits_adjust.wgsl?raw';
import lsePartialSource from '../../kernels/logsumexp_partial.wgsl?raw';
import lseReduceSource from '../../kernels/logsumexp_reduce.wgsl?raw';
import maxSum from '../../kernels/common/max_sum.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { uniforms, type Gpu, type Recorder } from '../gpu';

const adjustKernel = {
  name: 'logits_adjust',
  source: adjustSource,
  uniforms: uniforms({ count: 'u32', repetition_penalty: 'f32', frequency_penalty: 'f32', presence_penalty: 'f32' }),
};
const lsePartialKernel = { name: 'logsumexp_partial', source: lsePartialSource, includes: [maxSum], uniforms: uniforms({ length: 'u32', slice: 'u32' /* elements per workgroup */ }) };
const lseReduceKernel = { name: 'logsumexp_reduce', source: lseReduceSource, includes: [maxSum], uniforms: uniforms({ count: 'u32' /* partial pairs */ }) };

export interface LogitAdjustmentEntry {
  id: number;
  count: number;
  bias: number;
}

/** Bytes of the adjustment buffer for `n` entries (16 bytes each: id, count, bias, pad). */
export function adjustmentBytes(n: number): number {
  return Math.max(1, n) * 16;
}

/** Packs adjustments for `adjustLogits`; ids must be distinct and < vocab. */
export function packAdjustments(entries: readonly LogitAdjustmentEntry[], vocab: number): ArrayBuffer {
  const buf = new ArrayBuffer(adjustmentBytes(entries.length));
  const view = new DataView(buf);
  const seen = new Set<number>();
  entries.forEach((e, i) => {
    if (!Number.isInteger(e.id) || e.id < 0 || e.id >= vocab) throw new InvalidArgumentError(`logit adjustment for token ${e.id}: not a token id of this vocabulary (0..${vocab - 1})`);
    if (seen.has(e.id)) throw new InvalidArgumentError(`logit adjustment for token ${e.id} given twice`);
    seen.add(e.id);
    view.setUint32(i * 16, e.id, true);
    view.setUint32(i * 16 + 4, e.count, true);
    view.setFloat32(i * 16 + 8, e.bias, true);
  });
  return buf;
}

/**
 * Applies penalties and biases in place to `logits` for the `count` packed entries in `adjustments`
 * (see packAdjustments). A no-op dispatch is skipped when count is 0.
 */
export function adjustLogits(
  rec: Recorder,
  a: { logits: GPUBuffer; adjustments: GPUBuffer; count: number; repetitionPenalty: number; frequencyPenalty: number; presencePenalty: number },
): void {
  if (a.count === 0) return;
  if (!(a.repetitionPenalty > 0)) throw new InvalidArgumentError(`repetition penalty must be > 0, got ${a.repetitionPenalty}`);
  const pipeline = rec.gpu.pipelines.get(adjustKernel, { precision: rec.gpu.precision });
  const p = adjustKernel.uniforms.pack({ count: a.count, repetition_penalty: a.repetitionPenalty, frequency_penalty: a.frequencyPenalty, presence_penalty: a.presencePenalty });
  rec.dispatch(pipeline, p, [a.logits, a.adjustments], [Math.ceil(a.count / 64)]);
}

const SLICE = 4096;
/** Scratch bytes `logSumExp` needs for a row of `length`. */
export function logSumExpScratchBytes(length: number): number {
  return Math.ceil(length / SLICE) * 8;
}

/** out[0] (f32) = log Σ exp(logits[0..length)), NaNs ignored. `scratch` holds logSumExpScratchBytes(length). */
export function logSumExp(rec: Recorder, a: { logits: GPUBuffer; length: number; scratch: GPUBuffer; out: GPUBuffer }): void {
  const gpu: Gpu = rec.gpu;
  if (a.length < 1) throw new InvalidArgumentError('logSumExp of an empty row');
  const groups = Math.ceil(a.length / SLICE);
  if (groups > gpu.caps.limits.maxComputeWorkgroupsPerDimension) throw new InvalidArgumentError(`row of ${a.length} is too long for logSumExp`);
  rec.dispatch(gpu.pipelines.get(lsePartialKernel, { precision: gpu.precision }), lsePartialKernel.uniforms.pack({ length: a.length, slice: SLICE }), [a.logits, a.scratch], [groups]);
  rec.dispatch(gpu.pipelines.get(lseReduceKernel, { precision: gpu.precision }), lseReduceKernel.uniforms.pack({ count: groups }), [a.scratch, a.out], [1]);
}

import ropeAngle from '../../kernels/common/rope_angle.wgsl?raw';
import halvesSource from '../../kernels/rope_halves.wgsl?raw';
import pairsSource from '../../kernels/rope_pairs.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { bytesPerActivation, grid, params, type Kernel, type Recorder } from '../gpu';

/**
 * Which dims RoPE rotates together: 'pairs' = (x[2i], x[2i+1]) as GGUF `llama` (llama.cpp rope mode 0);
 * 'halves' = (x[i], x[i + ropeDim/2]) as `qwen2` and GPT-NeoX (mode 2).
 */
export type RopeLayout = 'pairs' | 'halves';

const kernels: Record<RopeLayout, Kernel> = {
  pairs: { name: 'rope_pairs', source: pairsSource, includes: [ropeAngle] },
  halves: { name: 'rope_halves', source: halvesSource, includes: [ropeAngle] },
};
const WG = 256;
/** Positions are converted to f32 on the GPU: beyond 2^24 they would no longer be exact. */
const MAX_POSITION = 2 ** 24;

export interface RopeArgs {
  /** q or k activations [tokens, heads, headDim], rotated in place. */
  x: GPUBuffer;
  tokens: number;
  heads: number;
  headDim: number;
  /** Leading dims of each head that are rotated (partial rotary); even, ≤ headDim. Default headDim. */
  ropeDim?: number;
  /** Position of token 0 (the number of tokens already in the KV cache). */
  offset: number;
  /** The model's `rope.freq_base` (10000 for llama 2, 1000000 for qwen2). */
  base: number;
  layout: RopeLayout;
}

/**
 * Rotates each pair of a head of token t by (offset + t)·θ_i, θ_i = base^(−2i/ropeDim), in place.
 * θ follows llama.cpp: the exponent is over the rotated dims (n_dims = ropeDim), not the head size,
 * and theta_scale = base^(−2/ropeDim) is rounded to f32 here as llama.cpp's powf does.
 */
export function rope(rec: Recorder, { x, tokens, heads, headDim, ropeDim = headDim, offset, base, layout }: RopeArgs): void {
  const what = `rope (${layout})`;
  if (!isCount(tokens) || !isCount(heads) || !isCount(headDim)) {
    throw new InvalidArgumentError(`${what}: tokens (${tokens}), heads (${heads}) and headDim (${headDim}) must be positive integers`);
  }
  if (!isCount(ropeDim) || ropeDim % 2 !== 0 || ropeDim > headDim) {
    throw new InvalidArgumentError(`${what}: ropeDim ${ropeDim} must be a positive even integer ≤ headDim (${headDim})`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + tokens > MAX_POSITION) {
    throw new InvalidArgumentError(`${what}: offset ${offset} must be an integer with 0 ≤ offset and offset + tokens ≤ 2^24`);
  }
  if (!(base > 1) || !Number.isFinite(base)) throw new InvalidArgumentError(`${what}: base ${base} must be a finite number > 1`);
  if (layout !== 'pairs' && layout !== 'halves') throw new InvalidArgumentError(`${what}: layout must be 'pairs' or 'halves'`);
  const bytes = tokens * heads * headDim * bytesPerActivation(rec.gpu);
  if (x.size < bytes) throw new InvalidArgumentError(`${what}: x holds ${x.size} bytes, [${tokens}, ${heads}, ${headDim}] activations need ${bytes}`);

  const halfRope = ropeDim / 2;
  const thetaScale = Math.fround(Math.pow(base, -2 / ropeDim));
  const pipeline = rec.gpu.pipelines.get(kernels[layout], { precision: rec.gpu.precision, constants: { WG } });
  const p = params().u32(tokens).u32(heads).u32(headDim).u32(halfRope).u32(offset).f32(thetaScale);
  rec.dispatch(pipeline, p, [x], grid(rec.gpu, Math.ceil((tokens * heads * halfRope) / WG)));
}

function isCount(n: number): boolean {
  return Number.isInteger(n) && n > 0;
}

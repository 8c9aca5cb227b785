import ropeAngle from '../../kernels/common/rope_angle.wgsl?raw';
import ropeSource from '../../kernels/rope.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { grid, uniforms, type Recorder } from '../gpu';
import { needActivations, needBytes, needCount } from './checks';

/**
 * Which dims RoPE rotates together: 'pairs' = (x[2i], x[2i+1]) as GGUF `llama` (llama.cpp rope mode 0);
 * 'halves' = (x[i], x[i + ropeDim/2]) as `qwen2` and GPT-NeoX (mode 2).
 */
export type RopeLayout = 'pairs' | 'halves';

const ropeUniforms = uniforms({
  tokens: 'u32',
  heads: 'u32',
  head_dim: 'u32',
  half_rope: 'u32', // ropeDim / 2: rotated pairs per head
  offset: 'u32', // position of token 0
  theta_scale: 'f32', // base^(−2/ropeDim), rounded to f32 on the CPU exactly as llama.cpp computes its theta_scale
  freq_scale: 'f32', // linear rope scaling: 1/factor (1 without scaling)
});
const ropeKernel = { name: 'rope', source: ropeSource, uniforms: ropeUniforms, includes: [ropeAngle] };
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
  /**
   * Linear rope scaling, llama.cpp's `freq_scale` = 1 / `rope.scaling.factor` (`ModelConfig.ropeFreqScale`):
   * every angle is multiplied by it. Finite and > 0; default 1 (no scaling).
   */
  freqScale?: number;
  /**
   * Llama 3.1-style `rope_freqs.weight`: ropeDim/2 f32 values (the GGUF tensor's bytes unchanged), pair i's
   * angle divided by value i, as llama.cpp's `freq_factors`. The values must be finite and > 0 (they live
   * on the GPU and are not checked here). Omitted: no division.
   */
  freqFactors?: GPUBuffer;
}

/**
 * Rotates each pair i of a head of token t by freqScale·((offset + t)·θ_i / f_i), θ_i = base^(−2i/ropeDim),
 * f_i = freqFactors[i] (1 without them), in place. This is llama.cpp's `ggml_rope_ext` without YaRN, in
 * its order of f32 operations: the exponent is over the rotated dims (n_dims = ropeDim), not the head
 * size; theta_scale = base^(−2/ropeDim) is rounded to f32 here as llama.cpp's powf does; the angle is
 * divided by the factor, then multiplied by freq_scale.
 */
export function rope(
  rec: Recorder,
  { x, tokens, heads, headDim, ropeDim = headDim, offset, base, layout, freqScale = 1, freqFactors }: RopeArgs,
): void {
  const what = `rope (${layout})`;
  needCount(what, 'tokens', tokens);
  needCount(what, 'heads', heads);
  needCount(what, 'headDim', headDim);
  if (!Number.isInteger(ropeDim) || ropeDim <= 0 || ropeDim % 2 !== 0 || ropeDim > headDim) {
    throw new InvalidArgumentError(`${what}: ropeDim ${ropeDim} must be a positive even integer ≤ headDim (${headDim})`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + tokens > MAX_POSITION) {
    throw new InvalidArgumentError(`${what}: offset ${offset} must be an integer with 0 ≤ offset and offset + tokens ≤ 2^24`);
  }
  if (!(base > 1) || !Number.isFinite(base)) throw new InvalidArgumentError(`${what}: base ${base} must be a finite number > 1`);
  if (layout !== 'pairs' && layout !== 'halves') throw new InvalidArgumentError(`${what}: layout must be 'pairs' or 'halves'`);
  // freqScale reaches the kernel as an f32 uniform: it must stay finite and nonzero (and not subnormal, which
  // GPUs may flush to 0) once rounded.
  const freqScale32 = Math.fround(freqScale);
  if (!(freqScale > 0) || !(freqScale32 >= 2 ** -126) || !Number.isFinite(freqScale32)) {
    throw new InvalidArgumentError(`${what}: freqScale ${freqScale} must be a finite number > 0 (in f32's normal range)`);
  }
  needActivations(rec.gpu, what, 'x', x, tokens * heads * headDim, `[${tokens}, ${heads}, ${headDim}]`);
  const halfRope = ropeDim / 2;
  if (freqFactors !== undefined) needBytes(what, 'freqFactors', freqFactors, halfRope * 4, `ropeDim/2 = ${halfRope} f32 factors`);
  if (freqFactors === x) throw new InvalidArgumentError(`${what}: freqFactors must not be x`);

  const thetaScale = Math.fround(Math.pow(base, -2 / ropeDim));
  // Factors take a variant of their own (FREQ_FACTORS: one more binding, a load and a division per pair)
  // rather than a buffer of ones bound on every call: the plain variant, what every model without
  // rope_freqs runs, keeps the single binding and gains only one multiply by freq_scale (exact when 1).
  const variant = { FREQ_FACTORS: freqFactors !== undefined, HALVES: layout === 'halves' };
  const pipeline = rec.gpu.pipelines.get(ropeKernel, { precision: rec.gpu.precision, defines: variant, constants: { WG } });
  const p = ropeUniforms.pack({ tokens, heads, head_dim: headDim, half_rope: halfRope, offset, theta_scale: thetaScale, freq_scale: freqScale });
  rec.dispatch(pipeline, p, freqFactors ? [x, freqFactors] : [x], grid(rec.gpu, Math.ceil((tokens * heads * halfRope) / WG)));
}

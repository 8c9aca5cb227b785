/**
 * What the Stable Diffusion pipeline sees of a scheduler. The loop is:
 *
 *     s.setTimesteps(steps);
 *     let x = randn(n, seed, s.initNoiseSigma);
 *     for (let i = 0; i < s.timesteps.length; i++) {
 *       const eps = unet(s.scaleModelInput(x, i), s.timesteps[i], text);
 *       x = s.step(eps, i, x, rng);
 *     }
 *
 * Steps are addressed by index, not by timestep value (diffusers looks the value up, which is ambiguous
 * when a schedule repeats a timestep). Latents are flat Float32Arrays; the arithmetic is float64 per element.
 */
import type { GaussianSource } from '../random';

export type SchedulerName = 'euler' | 'euler_ancestral' | 'ddim' | 'dpmpp_2m' | 'lcm';

export interface Scheduler {
  readonly name: SchedulerName;
  /** Model timesteps, one per inference step, noisiest first (what the UNet's time embedding gets). */
  readonly timesteps: readonly number[];
  /** σ per step plus the final one (length steps + 1), for σ-parameterised schedulers; undefined otherwise. */
  readonly sigmas: readonly number[] | undefined;
  /** Standard deviation of the initial latent noise. */
  readonly initNoiseSigma: number;
  /** ᾱ_t of the training schedule (length num_train_timesteps). */
  readonly alphasCumprod: Float64Array;
  /** Builds the schedule for `steps` inference steps and resets any multistep history. */
  setTimesteps(steps: number): void;
  /** The UNet input for step `i` (a new array; the input is not modified). */
  scaleModelInput(sample: Float32Array, i: number): Float32Array;
  /**
   * One denoising step: from the model output at step `i` and the current sample, the sample for step i + 1.
   * `rng` is required by stochastic schedulers (Euler ancestral, LCM) and ignored by the others.
   */
  step(modelOutput: Float32Array, i: number, sample: Float32Array, rng?: GaussianSource): Float32Array;
}

export function checkStep(s: { timesteps: readonly number[] }, i: number, a: Float32Array, b: Float32Array): void {
  if (s.timesteps.length === 0) throw new Error('call setTimesteps(steps) before stepping the scheduler');
  if (!Number.isInteger(i) || i < 0 || i >= s.timesteps.length) throw new RangeError(`step index ${i} outside 0..${s.timesteps.length - 1}`);
  if (a.length !== b.length) throw new RangeError(`model output has ${a.length} values but the sample has ${b.length}`);
}

export function needRng(rng: GaussianSource | undefined, who: string): GaussianSource {
  if (!rng) throw new Error(`${who} adds noise at each step: pass a GaussianSource (e.g. new SeededGaussian(seed)) to step()`);
  return rng;
}

/**
 * Latent Consistency Model sampling (Luo et al. 2023, Algorithm 1 "multistep consistency sampling")
 * = diffusers' LCMScheduler. Each step predicts the clean latent with the consistency function
 * f(x, t) = c_skip(t)·x + c_out(t)·x̂_0, then re-noises it to the next timestep with fresh noise
 * (none after the last step).
 */
import { parseLcmConfig, type LcmConfig, type RawSchedulerConfig } from './config';
import { alphasCumprod, linspace } from './noise_schedule';
import { checkStep, needRng, type Scheduler } from './scheduler';
import { predictX0Vp } from './prediction';
import type { GaussianSource } from '../random';

/** σ_data of the consistency-model boundary condition (Song et al. 2023). */
const SIGMA_DATA = 0.5;

export class LcmScheduler implements Scheduler {
  readonly name = 'lcm' as const;
  readonly config: LcmConfig;
  readonly alphasCumprod: Float64Array;
  readonly initNoiseSigma = 1;
  readonly sigmas = undefined;
  private readonly finalAlphaCumprod: number;
  timesteps: number[] = [];

  constructor(raw: RawSchedulerConfig = {}) {
    this.config = parseLcmConfig(raw);
    this.alphasCumprod = alphasCumprod(this.config, false);
    this.finalAlphaCumprod = this.config.setAlphaToOne ? 1 : this.alphasCumprod[0]!;
  }

  /**
   * The distillation used `original_inference_steps` evenly spaced timesteps k·(T/orig) - 1; inference
   * picks `steps` of them, evenly by index, starting from the noisiest.
   */
  setTimesteps(steps: number): void {
    const c = this.config;
    const orig = c.originalInferenceSteps;
    if (!Number.isInteger(steps) || steps < 1 || steps > orig) {
      throw new RangeError(`LCM steps must be an integer in 1..original_inference_steps (${orig}), got ${steps}`);
    }
    const k = Math.floor(c.numTrainTimesteps / orig);
    const origin: number[] = [];
    for (let i = orig; i >= 1; i--) origin.push(i * k - 1);
    this.timesteps = linspace(0, origin.length, steps, false).map((x) => origin[Math.floor(x)]!);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample.slice();
  }

  /** c_skip and c_out at timestep t (t scaled by timestep_scaling so c_skip ≈ δ(t)). */
  boundaryScalings(t: number): { cSkip: number; cOut: number } {
    const st = t * this.config.timestepScaling;
    const d = st * st + SIGMA_DATA * SIGMA_DATA;
    return { cSkip: (SIGMA_DATA * SIGMA_DATA) / d, cOut: st / Math.sqrt(d) };
  }

  step(modelOutput: Float32Array, i: number, sample: Float32Array, rng?: GaussianSource): Float32Array {
    checkStep(this, i, modelOutput, sample);
    const c = this.config;
    const t = this.timesteps[i]!;
    const isLast = i === this.timesteps.length - 1;
    const prevT = isLast ? t : this.timesteps[i + 1]!;
    const at = this.alphasCumprod[t]!;
    const aPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : this.finalAlphaCumprod;
    const a = Math.sqrt(at);
    const s = Math.sqrt(1 - at);
    const { cSkip, cOut } = this.boundaryScalings(t);
    const noise = isLast ? null : needRng(rng, 'LCM').fill(new Float32Array(sample.length));
    const out = new Float32Array(sample.length);
    for (let j = 0; j < out.length; j++) {
      const x = sample[j]!;
      let x0 = predictX0Vp(c.predictionType, modelOutput[j]!, x, a, s);
      if (c.clipSample) x0 = Math.min(c.clipSampleRange, Math.max(-c.clipSampleRange, x0));
      const denoised = cOut * x0 + cSkip * x;
      out[j] = noise ? Math.sqrt(aPrev) * denoised + Math.sqrt(1 - aPrev) * noise[j]! : denoised;
    }
    return out;
  }
}

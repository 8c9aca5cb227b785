/**
 * DDIM (Song et al. 2021, eq. 12) = diffusers' DDIMScheduler with η = 0 by default (deterministic).
 * VP parameterisation: x_t = √ᾱ_t·x_0 + √(1-ᾱ_t)·ε; the UNet input is the sample itself.
 */
import { parseDdimConfig, type DdimConfig, type RawSchedulerConfig } from './config';
import { alphasCumprod, spacedTimesteps } from './noise_schedule';
import { checkStep, needRng, type Scheduler } from './scheduler';
import { predictEpsVp, predictX0Vp } from './prediction';
import type { GaussianSource } from '../random';

export interface DdimOptions {
  /** η of the DDIM paper: 0 = deterministic DDIM, 1 = DDPM-like variance. Needs an rng when > 0. */
  eta?: number;
}

export class DdimScheduler implements Scheduler {
  readonly name = 'ddim' as const;
  readonly config: DdimConfig;
  readonly alphasCumprod: Float64Array;
  readonly initNoiseSigma = 1;
  readonly sigmas = undefined;
  /** ᾱ used after the last step: 1 ("set_alpha_to_one") or ᾱ_0. */
  private readonly finalAlphaCumprod: number;
  private readonly eta: number;
  timesteps: number[] = [];
  private stride = 0;

  constructor(raw: RawSchedulerConfig = {}, options: DdimOptions = {}) {
    this.config = parseDdimConfig(raw);
    this.alphasCumprod = alphasCumprod(this.config, false);
    this.finalAlphaCumprod = this.config.setAlphaToOne ? 1 : this.alphasCumprod[0]!;
    this.eta = options.eta ?? 0;
  }

  setTimesteps(steps: number): void {
    const c = this.config;
    this.timesteps = spacedTimesteps(c.timestepSpacing, c.numTrainTimesteps, steps, c.stepsOffset, true);
    // diffusers steps back by T // steps whatever the spacing (so "linspace"/"trailing" land between
    // the listed timesteps, exactly as there).
    this.stride = Math.floor(c.numTrainTimesteps / steps);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample.slice();
  }

  step(modelOutput: Float32Array, i: number, sample: Float32Array, rng?: GaussianSource): Float32Array {
    checkStep(this, i, modelOutput, sample);
    const c = this.config;
    const t = this.timesteps[i]!;
    const prevT = t - this.stride;
    const at = this.alphasCumprod[t]!;
    const aPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : this.finalAlphaCumprod;
    const a = Math.sqrt(at);
    const s = Math.sqrt(1 - at);
    // σ_t(η) of the paper, eq. 16.
    const variance = ((1 - aPrev) / (1 - at)) * (1 - at / aPrev);
    const std = this.eta * Math.sqrt(variance);
    const noise = this.eta > 0 ? needRng(rng, 'DDIM with eta > 0').fill(new Float32Array(sample.length)) : null;
    const dirScale = Math.sqrt(1 - aPrev - std * std);
    const out = new Float32Array(sample.length);
    for (let j = 0; j < out.length; j++) {
      const x = sample[j]!;
      let x0 = predictX0Vp(c.predictionType, modelOutput[j]!, x, a, s);
      const eps = predictEpsVp(c.predictionType, modelOutput[j]!, x, a, s);
      if (c.clipSample) {
        x0 = Math.min(c.clipSampleRange, Math.max(-c.clipSampleRange, x0));
        // diffusers keeps ε̂ from the model unless use_clipped_model_output; we follow its default.
      }
      let prev = Math.sqrt(aPrev) * x0 + dirScale * eps;
      if (noise) prev += std * noise[j]!;
      out[j] = prev;
    }
    return out;
  }
}

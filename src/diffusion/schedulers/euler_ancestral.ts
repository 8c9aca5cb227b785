/**
 * Euler ancestral (k-diffusion's sample_euler_ancestral, η = 1) = diffusers' EulerAncestralDiscreteScheduler.
 * Each step goes deterministically down to σ_down, then adds fresh noise of size σ_up, where
 * σ_up² + σ_down² = σ_next² and σ_up = σ_next·√(1 - σ_next²/σ²).
 */
import { UnsupportedSchedulerConfig, parseEulerAncestralConfig, type EulerAncestralConfig, type RawSchedulerConfig } from './config';
import { alphasCumprod, eulerInitNoiseSigma, interpIndex, spacedTimesteps, trainingSigmas } from './noise_schedule';
import { checkStep, needRng, type Scheduler } from './scheduler';
import { predictX0Sigma } from './prediction';
import type { GaussianSource } from '../random';

export class EulerAncestralScheduler implements Scheduler {
  readonly name = 'euler_ancestral' as const;
  readonly config: EulerAncestralConfig;
  readonly alphasCumprod: Float64Array;
  private readonly trainSigmas: Float64Array;
  timesteps: number[] = [];
  sigmas: number[] = [];

  constructor(raw: RawSchedulerConfig = {}) {
    this.config = parseEulerAncestralConfig(raw);
    if (this.config.predictionType === 'sample') {
      throw new UnsupportedSchedulerConfig('EulerAncestralDiscreteScheduler has no prediction_type "sample" (diffusers raises too)');
    }
    this.alphasCumprod = alphasCumprod(this.config, true);
    this.trainSigmas = trainingSigmas(this.alphasCumprod);
  }

  get initNoiseSigma(): number {
    return eulerInitNoiseSigma(this.sigmas, this.trainSigmas, this.config.timestepSpacing);
  }

  setTimesteps(steps: number): void {
    const c = this.config;
    this.timesteps = spacedTimesteps(c.timestepSpacing, c.numTrainTimesteps, steps, c.stepsOffset, false);
    this.sigmas = [...this.timesteps.map((t) => interpIndex(t, this.trainSigmas)), 0];
  }

  scaleModelInput(sample: Float32Array, i: number): Float32Array {
    const s = this.sigmas[i]!;
    const k = 1 / Math.sqrt(s * s + 1);
    return sample.map((x) => x * k);
  }

  step(modelOutput: Float32Array, i: number, sample: Float32Array, rng?: GaussianSource): Float32Array {
    checkStep(this, i, modelOutput, sample);
    const sigma = this.sigmas[i]!;
    const next = this.sigmas[i + 1]!;
    const up = Math.sqrt((next * next * (sigma * sigma - next * next)) / (sigma * sigma));
    const down = Math.sqrt(next * next - up * up);
    const dt = down - sigma;
    // The noise is drawn even when σ_up is 0 (last step) so the stream position does not depend on it,
    // as diffusers does.
    const noise = needRng(rng, 'Euler ancestral').fill(new Float32Array(sample.length));
    const out = new Float32Array(sample.length);
    for (let j = 0; j < out.length; j++) {
      const x = sample[j]!;
      const x0 = predictX0Sigma(this.config.predictionType, modelOutput[j]!, x, sigma);
      out[j] = x + ((x - x0) / sigma) * dt + noise[j]! * up;
    }
    return out;
  }
}

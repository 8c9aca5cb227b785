/**
 * Euler (Karras et al. 2022, Algorithm 2 without churn) = diffusers' EulerDiscreteScheduler.
 * Works in the σ ("variance exploding") parameterisation: x_σ = x_0 + σ·ε, UNet input x/√(σ²+1).
 * SD-Turbo ships this class with timestep_spacing "trailing"; see sd_turbo.ts.
 */
import { parseEulerConfig, type EulerConfig, type RawSchedulerConfig } from './config';
import { alphasCumprod, eulerInitNoiseSigma, interpIndex, karrasSigmas, sigmaToT, spacedTimesteps, trainingSigmas } from './noise_schedule';
import { checkStep, type Scheduler } from './scheduler';
import { predictX0Sigma } from './prediction';

export class EulerScheduler implements Scheduler {
  readonly name = 'euler' as const;
  readonly config: EulerConfig;
  readonly alphasCumprod: Float64Array;
  private readonly trainSigmas: Float64Array;
  timesteps: number[] = [];
  sigmas: number[] = [];

  constructor(raw: RawSchedulerConfig = {}) {
    this.config = parseEulerConfig(raw);
    this.alphasCumprod = alphasCumprod(this.config, true);
    this.trainSigmas = trainingSigmas(this.alphasCumprod);
  }

  get initNoiseSigma(): number {
    return eulerInitNoiseSigma(this.sigmas, this.trainSigmas, this.config.timestepSpacing);
  }

  setTimesteps(steps: number): void {
    const c = this.config;
    let ts = spacedTimesteps(c.timestepSpacing, c.numTrainTimesteps, steps, c.stepsOffset, false);
    let sigmas = ts.map((t) => interpIndex(t, this.trainSigmas));
    if (c.useKarrasSigmas) {
      // Euler's Karras range is that of the spaced schedule (first and last step), unless overridden.
      sigmas = karrasSigmas(c.sigmaMin ?? sigmas[sigmas.length - 1]!, c.sigmaMax ?? sigmas[0]!, steps);
      const logSigmas = this.trainSigmas.map(Math.log);
      ts = sigmas.map((s) => Math.fround(sigmaToT(s, logSigmas)));
    }
    const last = c.finalSigmasType === 'sigma_min' ? this.trainSigmas[0]! : 0;
    this.timesteps = ts;
    this.sigmas = [...sigmas, last];
  }

  scaleModelInput(sample: Float32Array, i: number): Float32Array {
    const s = this.sigmas[i]!;
    const k = 1 / Math.sqrt(s * s + 1);
    return sample.map((x) => x * k);
  }

  step(modelOutput: Float32Array, i: number, sample: Float32Array): Float32Array {
    checkStep(this, i, modelOutput, sample);
    const sigma = this.sigmas[i]!;
    const dt = this.sigmas[i + 1]! - sigma;
    const out = new Float32Array(sample.length);
    for (let j = 0; j < out.length; j++) {
      const x = sample[j]!;
      const x0 = predictX0Sigma(this.config.predictionType, modelOutput[j]!, x, sigma);
      out[j] = x + ((x - x0) / sigma) * dt; // dx/dσ = (x - x0)/σ, one Euler step to the next σ
    }
    return out;
  }
}

/**
 * SD-Turbo (stabilityai/sd-turbo, adversarial diffusion distillation of SD 2.1-base) samples in ONE step
 * from pure noise at the last training timestep.
 *
 * Its shipped `scheduler/scheduler_config.json` (as published on the Hugging Face hub, diffusers 0.24
 * export) is an EulerDiscreteScheduler:
 *   beta_schedule "scaled_linear", beta_start 0.00085, beta_end 0.012, num_train_timesteps 1000,
 *   prediction_type "epsilon", timestep_spacing "trailing", steps_offset 1, interpolation_type "linear",
 *   use_karras_sigmas false (plus DDIM/PNDM leftovers clip_sample, set_alpha_to_one, skip_prk_steps that
 *   Euler ignores). SDXL-Turbo ships EulerAncestralDiscreteScheduler with the same spacing.
 * (Written from the hub file's documented contents; the pipeline should always prefer the config that
 * comes with the model it loads over these constants.)
 *
 * With "trailing" and 1 step: timesteps = round(arange(1000, 0, -1000)) - 1 = [999]; σ = [σ(999), 0]
 * with σ(999) = √((1-ᾱ_999)/ᾱ_999) ≈ 14.6146; initNoiseSigma = σ(999) (trailing ⇒ no √(σ²+1));
 * the UNet sees x/√(σ²+1) at t = 999 and one Euler step to σ = 0 returns x̂_0 = x - σ·ε̂.
 * Euler ancestral gives the same result for one step: σ_up = σ_down = 0.
 * (steps_offset is ignored by "trailing"; it only shifts "leading" schedules.)
 */
import type { RawSchedulerConfig } from './config';

export const SD_TURBO_SCHEDULER_CONFIG: Readonly<RawSchedulerConfig> = Object.freeze({
  _class_name: 'EulerDiscreteScheduler',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  interpolation_type: 'linear',
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  sample_max_value: 1.0,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  timestep_spacing: 'trailing',
  trained_betas: null,
  use_karras_sigmas: false,
});

/** SD-Turbo is meant for 1 step (up to 4 work) and without classifier-free guidance. */
export const SD_TURBO_STEPS = 1;

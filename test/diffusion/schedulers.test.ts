/**
 * Schedulers against test/reference/diffusers_ref.ts: an independent float64 implementation written from
 * the papers' / diffusers' formulas in a different form (see its header). Pinned constants are checked
 * against the reference formulas first and carry a note of where they come from.
 */
import { describe, expect, it } from 'vitest';
import {
  createScheduler, schedulerFromConfig, DdimScheduler, DpmSolverMultistepScheduler, EulerAncestralScheduler, EulerScheduler,
  LcmScheduler, SD_TURBO_SCHEDULER_CONFIG, UnsupportedSchedulerConfig, type RawSchedulerConfig, type Scheduler,
} from '../../src/diffusion/schedulers/index';
import type { GaussianSource } from '../../src/diffusion/random';
import {
  refAlphasCumprod, refDdim, refDpmpp2m, refEuler, refEulerAncestral, refKarras, refLcm, refLcmTimesteps, refSigmaToT,
  refTimesteps, sigmaAtT, sigmaOf, type FakeModel, type Pred, type RefSchedule, type Spacing,
} from '../reference/diffusers_ref';
import { expectClose, randomFloats, rng } from '../random';

/** SD 1.x / 2.x training schedule (every SD export's scheduler_config.json). */
const SD: RawSchedulerConfig = { num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', steps_offset: 1 };
const SD_REF: RefSchedule = { T: 1000, betaStart: 0.00085, betaEnd: 0.012, kind: 'scaled_linear' };
const AC = refAlphasCumprod(SD_REF);

const N = 16; // latent values per test: small, but every element follows a different path
/** Fake UNet: linear in the input plus a t-dependent term, so every step's t and scaling matter. */
const model: FakeModel = (x, t) => x.map((v, j) => 0.1 * v + 0.3 * Math.sin(0.7 * j + t / 250));

/** Gaussian noise for stochastic steps, from the test's own generator (not src/diffusion/random.ts). */
function testNoise(steps: number, seed: number): number[][] {
  const u = rng(seed);
  const out: number[][] = [];
  for (let i = 0; i < steps; i++) {
    const row: number[] = [];
    for (let j = 0; j < N; j++) row.push(Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()));
    out.push(row);
  }
  return out;
}

/** Replays `rows` one per fill() call, so scheduler and reference see the same noise. */
class Replay implements GaussianSource {
  calls = 0;
  constructor(private readonly rows: number[][]) {}
  next(): number {
    throw new Error('schedulers should draw whole arrays');
  }
  fill(out: Float32Array, std = 1): Float32Array {
    const row = this.rows[this.calls++];
    if (!row) throw new Error('more noise drawn than the reference uses');
    for (let j = 0; j < out.length; j++) out[j] = row[j]! * std;
    return out;
  }
}

function initial(sigma: number, seed = 7): number[] {
  return Array.from(randomFloats(N, seed, 1.5), (v) => Math.fround(v * sigma));
}

/** Runs `s` exactly as the pipeline will, returning every sample. */
function run(s: Scheduler, x0: number[], noise?: GaussianSource): number[][] {
  let x: Float32Array = Float32Array.from(x0);
  const traj = [Array.from(x)];
  for (let i = 0; i < s.timesteps.length; i++) {
    const out = Float32Array.from(model(Array.from(s.scaleModelInput(x, i)), s.timesteps[i]!));
    x = s.step(out, i, x, noise);
    traj.push(Array.from(x));
  }
  return traj;
}

function expectTrajectory(actual: number[][], expected: number[][]): void {
  expect(actual.length).toBe(expected.length);
  // float32 latents vs a float64 reference: a few float32 ulps of the magnitudes involved, per step.
  actual.forEach((row, i) => expectClose(row, expected[i]!, 2e-5, 2e-5, `step ${i}`));
}

describe('training noise schedule', () => {
  it('ᾱ for linear, scaled_linear and squaredcos_cap_v2 equals the reference at every t', () => {
    const cases: [RawSchedulerConfig, RefSchedule][] = [
      [SD, SD_REF],
      [{ beta_schedule: 'linear' }, { T: 1000, betaStart: 0.0001, betaEnd: 0.02, kind: 'linear' }],
      [{ beta_schedule: 'squaredcos_cap_v2', num_train_timesteps: 500 }, { T: 500, betaStart: 0, betaEnd: 0, kind: 'squaredcos_cap_v2' }],
    ];
    for (const [cfg, ref] of cases) expectClose(new DdimScheduler(cfg).alphasCumprod, refAlphasCumprod(ref), 0, 1e-12, JSON.stringify(cfg));
  });

  it('pins SD 1.5 constants (checked against the reference formulas first)', () => {
    // SD v1.5 scheduler_config: scaled_linear 0.00085 → 0.012 over 1000 steps. ᾱ_999 ≈ 0.0047 is the
    // commonly quoted terminal ᾱ (Lin et al. 2023 table 1: terminal SNR 0.0047), σ_999 ≈ 14.6146 is
    // the initial sigma of k-diffusion / diffusers' Euler for SD, σ_0 ≈ 0.0292 its smallest.
    expect(AC[999]).toBeCloseTo(0.0046601, 6);
    expect(sigmaOf(AC[999]!)).toBeCloseTo(14.6146, 4);
    expect(sigmaOf(AC[0]!)).toBeCloseTo(0.029168, 5);
    const s = new EulerScheduler(SD);
    expect(s.alphasCumprod[999]).toBeCloseTo(0.0046601, 6);
  });

  it('rescale_betas_zero_snr makes the terminal ᾱ zero (2^-24 for σ-based schedulers) and keeps ᾱ_0', () => {
    const ddim = new DdimScheduler({ ...SD, rescale_betas_zero_snr: true });
    expect(ddim.alphasCumprod[999]).toBeLessThan(1e-20);
    expect(ddim.alphasCumprod[0]).toBeCloseTo(AC[0]!, 12);
    // Lin et al. Alg. 1 keeps √ᾱ affine in the original √ᾱ: check the midpoint.
    const sq = AC.map(Math.sqrt);
    const expectMid = ((sq[500]! - sq[999]!) * sq[0]!) / (sq[0]! - sq[999]!);
    expect(Math.sqrt(ddim.alphasCumprod[500]!)).toBeCloseTo(expectMid, 12);
    expect(new EulerScheduler({ ...SD, rescale_betas_zero_snr: true }).alphasCumprod[999]).toBe(2 ** -24);
  });
});

describe('timesteps and sigmas', () => {
  const spacings: Spacing[] = ['linspace', 'leading', 'trailing'];

  it('Euler and Euler ancestral: every spacing, σ interpolated at each timestep, final σ = 0', () => {
    for (const spacing of spacings) {
      for (const n of [1, 4, 7, 25, 50]) {
        for (const s of [new EulerScheduler({ ...SD, timestep_spacing: spacing }), new EulerAncestralScheduler({ ...SD, timestep_spacing: spacing })]) {
          s.setTimesteps(n);
          const ts = refTimesteps(spacing, 1000, n, 1, false);
          expectClose(s.timesteps, ts, 1e-4, 0, `${s.name} ${spacing} ${n} timesteps`); // Euler keeps float32 timesteps
          expectClose(s.sigmas!, [...ts.map((t) => sigmaAtT(AC, t)), 0], 0, 1e-6, `${s.name} ${spacing} ${n} sigmas`);
        }
      }
    }
  });

  it('pins well-known schedules', () => {
    const ddim = new DdimScheduler(SD);
    ddim.setTimesteps(50);
    // SD 1.5's default (leading, steps_offset 1) 50-step schedule: 981, 961, …, 1.
    expect(ddim.timesteps).toEqual(Array.from({ length: 50 }, (_, i) => 981 - 20 * i));
    const trailing = new DdimScheduler({ ...SD, timestep_spacing: 'trailing' });
    trailing.setTimesteps(4);
    expect(trailing.timesteps).toEqual([999, 749, 499, 249]); // Lin et al. 2023 Table 2, trailing
    const lin = new DdimScheduler({ ...SD, timestep_spacing: 'linspace' });
    lin.setTimesteps(4);
    expect(lin.timesteps).toEqual([999, 666, 333, 0]);
    const lcm = new LcmScheduler(SD);
    lcm.setTimesteps(4);
    expect(lcm.timesteps).toEqual([999, 759, 499, 259]); // the LCM-LoRA / LCM-Dreamshaper 4-step schedule
    const dpm = new DpmSolverMultistepScheduler(SD);
    dpm.setTimesteps(5);
    expect(dpm.timesteps).toEqual([999, 799, 599, 400, 200]); // linspace over 6 points, t = 0 dropped
  });

  it('Euler init_noise_sigma: σ_max for linspace/trailing, √(σ_max²+1) for leading', () => {
    // σ(999) ≈ 14.6146 starts linspace/trailing schedules. A leading 50-step schedule starts at t = 981,
    // σ(981) ≈ 13.1204, and diffusers draws √(σ² + 1) ≈ 13.1585 there (not 14.6146).
    expect(sigmaOf(AC[981]!)).toBeCloseTo(13.1204, 4);
    const lead = new EulerScheduler({ ...SD, timestep_spacing: 'leading' });
    lead.setTimesteps(50);
    expect(lead.timesteps[0]).toBe(981);
    expect(lead.initNoiseSigma).toBeCloseTo(Math.sqrt(sigmaOf(AC[981]!) ** 2 + 1), 10);
    expect(lead.initNoiseSigma).toBeCloseTo(13.1585, 4);
    for (const spacing of ['linspace', 'trailing'] as const) {
      const s = new EulerScheduler({ ...SD, timestep_spacing: spacing });
      s.setTimesteps(50);
      expect(s.initNoiseSigma).toBeCloseTo(14.6146, 4);
    }
    for (const s of [new DdimScheduler(SD), new DpmSolverMultistepScheduler(SD), new LcmScheduler(SD)]) expect(s.initNoiseSigma).toBe(1);
  });

  it('DDIM rounds linspace timesteps (half to even, as numpy)', () => {
    for (const spacing of spacings) {
      for (const n of [1, 3, 10, 37]) {
        const s = new DdimScheduler({ ...SD, timestep_spacing: spacing });
        s.setTimesteps(n);
        expect(s.timesteps, `${spacing} ${n}`).toEqual(refTimesteps(spacing, 1000, n, 1, true));
      }
    }
  });

  it('DPM-Solver: n+1-point linspace/leading, trailing, Karras over the full training range', () => {
    const T = 1000;
    const round = (x: number) => (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x));
    for (const n of [1, 5, 12, 20]) {
      const lin = new DpmSolverMultistepScheduler(SD);
      lin.setTimesteps(n);
      expect(lin.timesteps).toEqual(Array.from({ length: n }, (_, i) => round(((T - 1) * (n - i)) / n)));
      expectClose(lin.sigmas!, [...lin.timesteps.map((t) => sigmaOf(AC[t]!)), 0], 0, 1e-12, 'dpm linspace sigmas');
      const lead = new DpmSolverMultistepScheduler({ ...SD, timestep_spacing: 'leading' });
      lead.setTimesteps(n);
      expect(lead.timesteps).toEqual(Array.from({ length: n }, (_, i) => Math.floor(T / (n + 1)) * (n - i) + 1));
      const trail = new DpmSolverMultistepScheduler({ ...SD, timestep_spacing: 'trailing' });
      trail.setTimesteps(n);
      expect(trail.timesteps).toEqual(refTimesteps('trailing', T, n, 1, true));
      const k = new DpmSolverMultistepScheduler({ ...SD, use_karras_sigmas: true });
      k.setTimesteps(n);
      const ks = refKarras(sigmaOf(AC[0]!), sigmaOf(AC[999]!), n);
      expectClose(k.sigmas!, [...ks, 0], 0, 1e-12, 'dpm karras sigmas');
      expect(k.timesteps).toEqual(ks.map((s) => round(refSigmaToT(AC, s))));
    }
    const sm = new DpmSolverMultistepScheduler({ ...SD, final_sigmas_type: 'sigma_min' });
    sm.setTimesteps(3);
    expect(sm.sigmas![3]).toBeCloseTo(sigmaOf(AC[0]!), 12);
  });

  it('Euler Karras: range of the spaced schedule (or sigma_min/sigma_max), fractional timesteps', () => {
    const s = new EulerScheduler({ ...SD, use_karras_sigmas: true });
    s.setTimesteps(8);
    const spaced = refTimesteps('linspace', 1000, 8, 0, false).map((t) => sigmaAtT(AC, t));
    const ks = refKarras(spaced[7]!, spaced[0]!, 8);
    expectClose(s.sigmas!, [...ks, 0], 0, 1e-9, 'sigmas');
    expectClose(s.timesteps, ks.map((x) => refSigmaToT(AC, x)), 1e-3, 0, 'timesteps');
    const o = new EulerScheduler({ ...SD, use_karras_sigmas: true, sigma_min: 0.1, sigma_max: 10 });
    o.setTimesteps(6);
    expectClose(o.sigmas!, [...refKarras(0.1, 10, 6), 0], 0, 1e-12, 'override');
    const fin = new EulerScheduler({ ...SD, final_sigmas_type: 'sigma_min' });
    fin.setTimesteps(6);
    expect(fin.sigmas![6]).toBeCloseTo(sigmaOf(AC[0]!), 12);
  });

  it('LCM: original_inference_steps schedule, evenly indexed', () => {
    for (const [orig, n] of [[50, 1], [50, 2], [50, 4], [50, 8], [50, 50], [25, 7]] as const) {
      const s = new LcmScheduler({ ...SD, original_inference_steps: orig });
      s.setTimesteps(n);
      expect(s.timesteps, `${orig}/${n}`).toEqual(refLcmTimesteps(1000, orig, n));
    }
    expect(() => new LcmScheduler(SD).setTimesteps(51)).toThrow(/original_inference_steps/);
  });
});

describe('full trajectories against the reference', () => {
  const preds: Pred[] = ['epsilon', 'v_prediction', 'sample'];

  it('Euler: each spacing and prediction type, Karras, final σ_min', () => {
    const configs: RawSchedulerConfig[] = [
      ...(['linspace', 'leading', 'trailing'] as const).map((timestep_spacing) => ({ ...SD, timestep_spacing })),
      ...preds.map((prediction_type) => ({ ...SD, prediction_type })),
      { ...SD, use_karras_sigmas: true },
      { ...SD, final_sigmas_type: 'sigma_min', timestep_spacing: 'trailing' },
    ];
    for (const cfg of configs) {
      const s = new EulerScheduler(cfg);
      s.setTimesteps(12);
      const x = initial(s.initNoiseSigma);
      expectTrajectory(run(s, x), refEuler(s.sigmas!, s.timesteps, x, model, (cfg['prediction_type'] as Pred) ?? 'epsilon'));
    }
  });

  it('Euler ancestral: each spacing, ε and v, noise injected from the test', () => {
    const configs: RawSchedulerConfig[] = [
      { ...SD, timestep_spacing: 'linspace' }, { ...SD, timestep_spacing: 'leading' }, { ...SD, timestep_spacing: 'trailing' },
      { ...SD, prediction_type: 'v_prediction' },
    ];
    for (const cfg of configs) {
      const s = new EulerAncestralScheduler(cfg);
      s.setTimesteps(10);
      const x = initial(s.initNoiseSigma);
      const noise = testNoise(10, 3);
      expectTrajectory(run(s, x, new Replay(noise)), refEulerAncestral(s.sigmas!, s.timesteps, x, model, (cfg['prediction_type'] as Pred) ?? 'epsilon', noise));
    }
    expect(() => new EulerAncestralScheduler({ prediction_type: 'sample' })).toThrow(UnsupportedSchedulerConfig);
  });

  it('DDIM: prediction types, clip_sample, set_alpha_to_one, spacings, η = 1', () => {
    const cases: { cfg: RawSchedulerConfig; eta?: number }[] = [
      ...preds.map((prediction_type) => ({ cfg: { ...SD, prediction_type, clip_sample: false } })),
      { cfg: { ...SD, clip_sample: true, clip_sample_range: 0.5 } },
      { cfg: { ...SD, clip_sample: false, set_alpha_to_one: false } },
      { cfg: { ...SD, clip_sample: false, timestep_spacing: 'trailing' } },
      { cfg: { ...SD, clip_sample: false, timestep_spacing: 'linspace' } },
      { cfg: { ...SD, clip_sample: false }, eta: 1 },
    ];
    for (const { cfg, eta = 0 } of cases) {
      const s = new DdimScheduler(cfg, { eta });
      s.setTimesteps(10);
      const x = initial(1);
      const noise = testNoise(10, 11);
      const clip = cfg['clip_sample'] ? ((cfg['clip_sample_range'] as number) ?? 1) : null;
      const finalAbar = cfg['set_alpha_to_one'] === false ? AC[0]! : 1;
      const expected = refDdim(AC, s.timesteps, x, model, (cfg['prediction_type'] as Pred) ?? 'epsilon', { finalAbar, clip, eta, noise });
      expectTrajectory(run(s, x, eta > 0 ? new Replay(noise) : undefined), expected);
    }
  });

  it('DDIM default config clips x̂_0 to [-1, 1] (diffusers default clip_sample=True)', () => {
    const s = new DdimScheduler(SD);
    s.setTimesteps(6);
    const x = initial(1);
    expectTrajectory(run(s, x), refDdim(AC, s.timesteps, x, model, 'epsilon', { finalAbar: 1, clip: 1, eta: 0 }));
  });

  it('DPM-Solver++(2M): lower_order_final, Karras, prediction types, order 1, final σ_min', () => {
    type Case = { cfg: RawSchedulerConfig; n: number; firstAtLast: boolean };
    const cases: Case[] = [
      { cfg: SD, n: 10, firstAtLast: true },
      { cfg: { ...SD, use_karras_sigmas: true }, n: 10, firstAtLast: true },
      { cfg: { ...SD, prediction_type: 'v_prediction' }, n: 8, firstAtLast: true },
      { cfg: { ...SD, prediction_type: 'sample' }, n: 8, firstAtLast: true },
      { cfg: { ...SD, timestep_spacing: 'leading' }, n: 9, firstAtLast: true },
      { cfg: { ...SD, timestep_spacing: 'trailing' }, n: 9, firstAtLast: true },
      // final σ = σ_min: the last step is first order only while lower_order_final applies (< 15 steps).
      { cfg: { ...SD, final_sigmas_type: 'sigma_min' }, n: 10, firstAtLast: true },
      { cfg: { ...SD, final_sigmas_type: 'sigma_min' }, n: 16, firstAtLast: false },
      { cfg: { ...SD, final_sigmas_type: 'sigma_min', lower_order_final: false }, n: 10, firstAtLast: false },
      { cfg: { ...SD, final_sigmas_type: 'sigma_min', lower_order_final: false, euler_at_final: true }, n: 10, firstAtLast: true },
    ];
    for (const { cfg, n, firstAtLast } of cases) {
      const s = new DpmSolverMultistepScheduler(cfg);
      s.setTimesteps(n);
      const x = initial(1);
      const expected = refDpmpp2m(s.sigmas!, s.timesteps, x, model, (cfg['prediction_type'] as Pred) ?? 'epsilon', (i) => firstAtLast && i === n - 1);
      expectTrajectory(run(s, x), expected);
    }
    // solver_order 1 is first order (DDIM-equivalent) everywhere.
    const o1 = new DpmSolverMultistepScheduler({ ...SD, solver_order: 1 });
    o1.setTimesteps(7);
    const x = initial(1);
    expectTrajectory(run(o1, x), refDpmpp2m(o1.sigmas!, o1.timesteps, x, model, 'epsilon', () => true));
  });

  it('DPM-Solver++(2M) is really second order: differs from order 1 on the same schedule', () => {
    const a = new DpmSolverMultistepScheduler(SD);
    const b = new DpmSolverMultistepScheduler({ ...SD, solver_order: 1 });
    a.setTimesteps(10);
    b.setTimesteps(10);
    const x = initial(1);
    const d = Math.abs(run(a, x)[10]![0]! - run(b, x)[10]![0]!);
    expect(d).toBeGreaterThan(1e-3);
  });

  it('LCM: 1, 2, 4 and 8 steps, ε and v, clip_sample, noise only between steps', () => {
    for (const [cfg, n] of [
      [SD, 1], [SD, 2], [SD, 4], [SD, 8], [{ ...SD, prediction_type: 'v_prediction' }, 4], [{ ...SD, clip_sample: true }, 4],
      [{ ...SD, timestep_scaling: 0.002 }, 3], // small scaling: c_skip matters
    ] as [RawSchedulerConfig, number][]) {
      const s = new LcmScheduler(cfg);
      s.setTimesteps(n);
      const x = initial(1);
      const noise = testNoise(n, 5);
      const replay = new Replay(noise);
      const expected = refLcm(AC, s.timesteps, x, model, (cfg['prediction_type'] as Pred) ?? 'epsilon', {
        finalAbar: 1, scaling: (cfg['timestep_scaling'] as number) ?? 10, clip: cfg['clip_sample'] ? 1 : null, noise,
      });
      expectTrajectory(run(s, x, replay), expected);
      expect(replay.calls).toBe(n - 1);
    }
  });

  it('SD-Turbo: one Euler step from t = 999 returns x − σ(999)·ε̂', () => {
    for (const cls of ['euler', 'euler_ancestral'] as const) {
      const s = createScheduler(cls, SD_TURBO_SCHEDULER_CONFIG);
      s.setTimesteps(1);
      expect(s.timesteps).toEqual([999]);
      const sigma = sigmaOf(AC[999]!);
      expect(s.sigmas![0]).toBeCloseTo(sigma, 10);
      expect(s.sigmas![1]).toBe(0);
      expect(s.initNoiseSigma).toBeCloseTo(14.6146, 4);
      const x = initial(s.initNoiseSigma);
      const eps = model(x.map((v) => v / Math.sqrt(sigma * sigma + 1)), 999);
      const [, out] = run(s, x, new Replay(testNoise(1, 1)));
      expectClose(out!, x.map((v, j) => v - sigma * eps[j]!), 2e-5, 2e-5, cls);
    }
  });
});

describe('factory, config parsing and misuse', () => {
  it('maps our names and diffusers class names', () => {
    expect(createScheduler('euler', SD)).toBeInstanceOf(EulerScheduler);
    expect(createScheduler('EulerAncestralDiscreteScheduler', SD)).toBeInstanceOf(EulerAncestralScheduler);
    expect(createScheduler('dpmpp_2m', SD)).toBeInstanceOf(DpmSolverMultistepScheduler);
    expect(createScheduler('DDIMScheduler', SD)).toBeInstanceOf(DdimScheduler);
    expect(createScheduler('lcm', SD)).toBeInstanceOf(LcmScheduler);
    expect(schedulerFromConfig({ ...SD, _class_name: 'LCMScheduler' })).toBeInstanceOf(LcmScheduler);
    expect(() => schedulerFromConfig({ ...SD, _class_name: 'PNDMScheduler' })).toThrow(/not implemented/);
    expect(() => createScheduler('heun', SD)).toThrow(/unknown scheduler/);
  });

  it('rejects options that would change the maths silently', () => {
    expect(() => new DpmSolverMultistepScheduler({ algorithm_type: 'sde-dpmsolver++' })).toThrow(UnsupportedSchedulerConfig);
    expect(() => new DpmSolverMultistepScheduler({ solver_order: 3 })).toThrow(UnsupportedSchedulerConfig);
    expect(() => new EulerScheduler({ interpolation_type: 'log_linear' })).toThrow(UnsupportedSchedulerConfig);
    expect(() => new DdimScheduler({ thresholding: true })).toThrow(UnsupportedSchedulerConfig);
    expect(() => new EulerScheduler({ timestep_spacing: 'uniform' })).toThrow(/timestep_spacing/);
    expect(() => new EulerScheduler({ beta_schedule: 'sigmoid' })).toThrow(/beta_schedule/);
    // Irrelevant leftovers of other classes (as SD exports carry) are accepted.
    expect(() => new EulerScheduler({ ...SD, skip_prk_steps: true, clip_sample: false, set_alpha_to_one: false })).not.toThrow();
  });

  it('guards misuse: stepping before setTimesteps, out-of-order multistep, missing rng, bad sizes', () => {
    const e = new EulerScheduler(SD);
    expect(() => e.step(new Float32Array(4), 0, new Float32Array(4))).toThrow(/setTimesteps/);
    e.setTimesteps(3);
    expect(() => e.step(new Float32Array(4), 0, new Float32Array(5))).toThrow(RangeError);
    expect(() => e.step(new Float32Array(4), 3, new Float32Array(4))).toThrow(RangeError);
    const d = new DpmSolverMultistepScheduler(SD);
    d.setTimesteps(3);
    expect(() => d.step(new Float32Array(4), 1, new Float32Array(4))).toThrow(/in order/);
    const a = new EulerAncestralScheduler(SD);
    a.setTimesteps(2);
    expect(() => a.step(new Float32Array(4), 0, new Float32Array(4))).toThrow(/GaussianSource/);
    expect(() => new EulerScheduler(SD).setTimesteps(0)).toThrow(RangeError);
  });
});

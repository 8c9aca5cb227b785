/**
 * The training noise schedule (betas → ᾱ_t) and the numpy helpers diffusers builds its inference
 * schedules from. Everything is float64; diffusers keeps betas and ᾱ in float32, so our sigmas differ
 * from a diffusers print-out in about the 7th significant digit — far below what a UNet can notice.
 */
import { UnsupportedSchedulerConfig, type BaseSchedulerConfig, type TimestepSpacing } from './config';

/** numpy.linspace(start, stop, num) with numpy's arithmetic (step·i + start, last value exactly stop). */
export function linspace(start: number, stop: number, num: number, endpoint = true): number[] {
  if (num <= 0) return [];
  const div = endpoint ? num - 1 : num;
  const step = div > 0 ? (stop - start) / div : 0;
  const out = new Array<number>(num);
  for (let i = 0; i < num; i++) out[i] = start + i * step;
  if (endpoint && num > 1) out[num - 1] = stop;
  return out;
}

/** numpy.arange(start, stop, step): length ceil((stop - start) / step), values start + i·step. */
export function arange(start: number, stop: number, step: number): number[] {
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = start + i * step;
  return out;
}

/** numpy's round(): halves go to the even neighbour (Math.round sends them up). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** numpy.interp for increasing integer grid xp = 0..fp.length-1, clamped at both ends. */
export function interpIndex(x: number, fp: ArrayLike<number>): number {
  const n = fp.length;
  if (x <= 0) return fp[0]!;
  if (x >= n - 1) return fp[n - 1]!;
  const lo = Math.floor(x);
  const w = x - lo;
  return fp[lo]! + w * (fp[lo + 1]! - fp[lo]!);
}

/** ᾱ(t) of the "squaredcos_cap_v2" (GLIDE / improved-DDPM cosine) schedule. */
function cosineAlphaBar(t: number): number {
  return Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
}

/** β_1..β_T for the configured schedule. */
export function makeBetas(cfg: BaseSchedulerConfig): Float64Array {
  const T = cfg.numTrainTimesteps;
  if (cfg.trainedBetas) {
    if (cfg.trainedBetas.length !== T) throw new UnsupportedSchedulerConfig(`trained_betas has ${cfg.trainedBetas.length} values, expected ${T}`);
    return Float64Array.from(cfg.trainedBetas);
  }
  switch (cfg.betaSchedule) {
    case 'linear':
      return Float64Array.from(linspace(cfg.betaStart, cfg.betaEnd, T));
    case 'scaled_linear':
      // Latent diffusion's schedule: linear in √β.
      return Float64Array.from(linspace(Math.sqrt(cfg.betaStart), Math.sqrt(cfg.betaEnd), T), (b) => b * b);
    case 'squaredcos_cap_v2': {
      const betas = new Float64Array(T);
      for (let i = 0; i < T; i++) betas[i] = Math.min(1 - cosineAlphaBar((i + 1) / T) / cosineAlphaBar(i / T), 0.999);
      return betas;
    }
  }
}

/** Lin et al. 2023, Algorithm 1: shift and scale √ᾱ so the last step has zero SNR. */
export function rescaleZeroTerminalSnr(betas: Float64Array): Float64Array {
  const T = betas.length;
  const sq = new Float64Array(T);
  let prod = 1;
  for (let i = 0; i < T; i++) {
    prod *= 1 - betas[i]!;
    sq[i] = Math.sqrt(prod);
  }
  const first = sq[0]!;
  const last = sq[T - 1]!;
  const out = new Float64Array(T);
  let prevBar = 1;
  for (let i = 0; i < T; i++) {
    const s = ((sq[i]! - last) * first) / (first - last);
    const bar = s * s;
    out[i] = 1 - (i === 0 ? bar : bar / prevBar);
    prevBar = bar;
  }
  return out;
}

/**
 * ᾱ_t = Π(1 - β). With the zero-SNR rescale ᾱ_T is 0, which makes σ_T infinite; the sigma-based
 * schedulers (Euler, DPM-Solver) replace it by 2^-24 as diffusers does.
 */
export function alphasCumprod(cfg: BaseSchedulerConfig, sigmaBased: boolean): Float64Array {
  let betas = makeBetas(cfg);
  if (cfg.rescaleBetasZeroSnr) betas = rescaleZeroTerminalSnr(betas);
  const ac = new Float64Array(betas.length);
  let prod = 1;
  for (let i = 0; i < betas.length; i++) {
    prod *= 1 - betas[i]!;
    ac[i] = prod;
  }
  if (cfg.rescaleBetasZeroSnr && sigmaBased) ac[ac.length - 1] = 2 ** -24;
  return ac;
}

/** σ_t = √((1 - ᾱ_t) / ᾱ_t): the noise level of the variance-exploding view (x / √ᾱ). */
export function trainingSigmas(ac: Float64Array): Float64Array {
  return ac.map((a) => Math.sqrt((1 - a) / a));
}

/**
 * Inference timesteps, highest first, the way Euler / Euler-ancestral / DDIM space them
 * (Lin et al. 2023, Table 2). `integer` rounds the linspace variant (DDIM) instead of keeping floats (Euler).
 */
export function spacedTimesteps(spacing: TimestepSpacing, T: number, n: number, stepsOffset: number, integer: boolean): number[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`number of steps must be a positive integer, got ${n}`);
  if (n > T) throw new RangeError(`number of steps ${n} exceeds num_train_timesteps ${T}`);
  switch (spacing) {
    case 'linspace': {
      const ts = linspace(0, T - 1, n).reverse();
      return integer ? ts.map(roundHalfEven) : ts.map(Math.fround); // diffusers keeps Euler's as float32
    }
    case 'leading': {
      const ratio = Math.floor(T / n);
      return arange(0, n, 1).map((i) => i * ratio + stepsOffset).reverse();
    }
    case 'trailing':
      return arange(T, 0, -T / n).map((t) => roundHalfEven(t) - 1);
  }
}

/** Karras et al. 2022 eq. 5 with ρ = 7: n sigmas from sigmaMax down to sigmaMin. */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7;
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return linspace(0, 1, n).map((r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

/**
 * The (fractional) training timestep whose σ equals `sigma`: linear interpolation of log σ between the
 * two neighbouring training steps, clamped to [0, T-1] (diffusers' `_sigma_to_t`).
 */
export function sigmaToT(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  const n = logSigmas.length;
  let low = 0; // last index whose log σ is <= logSigma (log σ grows with t)
  for (let i = 0; i < n; i++) if (logSigma >= logSigmas[i]!) low = i;
  low = Math.min(low, n - 2);
  const lo = logSigmas[low]!;
  const hi = logSigmas[low + 1]!;
  const w = Math.min(1, Math.max(0, (lo - logSigma) / (lo - hi)));
  return (1 - w) * low + w * (low + 1);
}

/**
 * The initial noise σ of the Euler-family schedulers: "linspace" and "trailing" start exactly at the noisiest
 * training step, so it is σ_max; "leading" starts below it and diffusers draws √(σ_max² + 1) there (the
 * variance of x_T in x/√ᾱ units when the model is fed x_T as if it were pure noise). Before setTimesteps,
 * the training sigmas stand in.
 */
export function eulerInitNoiseSigma(sigmas: readonly number[], trainSigmas: Float64Array, spacing: TimestepSpacing): number {
  const max = sigmas.length ? Math.max(...sigmas) : Math.max(...trainSigmas);
  return spacing === 'leading' ? Math.sqrt(max * max + 1) : max;
}

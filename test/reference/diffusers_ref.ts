/**
 * Independent float64 reference for the diffusion schedulers, written straight from the papers and from
 * diffusers' documented formulas — deliberately in a different form from src/diffusion/schedulers:
 * scalar loops, ᾱ computed by a fresh product, Euler in "x += (σ_next − σ)·ε" form, DPM-Solver++(2M) in
 * k-diffusion's variance-exploding form (t = −log σ), DDIM/LCM straight from their papers' equations.
 * Nothing here imports from src/.
 */

export type Spacing = 'leading' | 'trailing' | 'linspace';
export type Pred = 'epsilon' | 'v_prediction' | 'sample';

export interface RefSchedule {
  T: number;
  betaStart: number;
  betaEnd: number;
  kind: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
}

/** ᾱ_t for t = 0..T-1 (DDPM: β linear; LDM: √β linear; iDDPM cosine with β ≤ 0.999). */
export function refAlphasCumprod(s: RefSchedule): number[] {
  const betas: number[] = [];
  for (let i = 0; i < s.T; i++) {
    const f = i / (s.T - 1);
    if (s.kind === 'linear') betas.push(s.betaStart + f * (s.betaEnd - s.betaStart));
    else if (s.kind === 'scaled_linear') betas.push((Math.sqrt(s.betaStart) + f * (Math.sqrt(s.betaEnd) - Math.sqrt(s.betaStart))) ** 2);
    else {
      const abar = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI * 0.5) ** 2;
      betas.push(Math.min(0.999, 1 - abar((i + 1) / s.T) / abar(i / s.T)));
    }
  }
  const out: number[] = [];
  let p = 1;
  for (const b of betas) out.push((p *= 1 - b));
  return out;
}

export const sigmaOf = (abar: number) => Math.sqrt((1 - abar) / abar);

/** Linear interpolation of σ between integer training steps (clamped). */
export function sigmaAtT(ac: number[], t: number): number {
  const lo = Math.max(0, Math.min(ac.length - 1, Math.floor(t)));
  const hi = Math.min(ac.length - 1, lo + 1);
  const w = t - lo;
  return (1 - w) * sigmaOf(ac[lo]!) + w * sigmaOf(ac[hi]!);
}

const bankersRound = (x: number) => {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
};

/** Table 2 of Lin et al. 2023 ("Common diffusion noise schedules and sample steps are flawed"). */
export function refTimesteps(spacing: Spacing, T: number, n: number, offset: number, roundLinspace: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (spacing === 'linspace') {
      const v = n === 1 ? 0 : ((T - 1) * (n - 1 - i)) / (n - 1);
      out.push(roundLinspace ? bankersRound(v) : v);
    } else if (spacing === 'leading') out.push(Math.floor(T / n) * (n - 1 - i) + offset);
    else out.push(bankersRound(T - (i * T) / n) - 1);
  }
  return out;
}

/** Karras et al. 2022 eq. 5, ρ = 7. */
export function refKarras(sMin: number, sMax: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = n === 1 ? 0 : i / (n - 1);
    out.push((sMax ** (1 / 7) + r * (sMin ** (1 / 7) - sMax ** (1 / 7))) ** 7);
  }
  return out;
}

/** The training t whose σ is `s`, interpolating log σ linearly between neighbours. */
export function refSigmaToT(ac: number[], s: number): number {
  const logs = ac.map((a) => Math.log(sigmaOf(a)));
  const ls = Math.log(Math.max(s, 1e-10));
  if (ls <= logs[0]!) return 0;
  if (ls >= logs[logs.length - 1]!) return logs.length - 1;
  let k = 0;
  while (!(logs[k]! <= ls && ls < logs[k + 1]!)) k++;
  return k + (ls - logs[k]!) / (logs[k + 1]! - logs[k]!);
}

/** The fake UNet the tests drive every scheduler with: a smooth function of input and t. */
export type FakeModel = (x: number[], t: number) => number[];

function x0FromSigmaForm(pred: Pred, out: number, x: number, sigma: number): number {
  // Variance-exploding form x = x0 + σ·ε; v-prediction (Salimans & Ho 2022) with c_skip = 1/(σ²+1), c_out = −σ/√(σ²+1).
  if (pred === 'epsilon') return x - sigma * out;
  if (pred === 'sample') return out;
  return x / (sigma * sigma + 1) - (sigma / Math.sqrt(sigma * sigma + 1)) * out;
}

/** Euler (Karras Alg. 2, no churn), VE form. Returns every intermediate sample. */
export function refEuler(sigmas: number[], timesteps: number[], x: number[], model: FakeModel, pred: Pred): number[][] {
  const traj = [x.slice()];
  for (let i = 0; i < timesteps.length; i++) {
    const s = sigmas[i]!;
    const inp = x.map((v) => v / Math.sqrt(s * s + 1));
    const out = model(inp, timesteps[i]!);
    x = x.map((v, j) => {
      const d = (v - x0FromSigmaForm(pred, out[j]!, v, s)) / s; // = ε for epsilon models
      return v + (sigmas[i + 1]! - s) * d;
    });
    traj.push(x);
  }
  return traj;
}

/** Euler ancestral (k-diffusion get_ancestral_step with η = 1). `noise[i]` is the noise of step i. */
export function refEulerAncestral(sigmas: number[], timesteps: number[], x: number[], model: FakeModel, pred: Pred, noise: number[][]): number[][] {
  const traj = [x.slice()];
  for (let i = 0; i < timesteps.length; i++) {
    const s = sigmas[i]!;
    const sn = sigmas[i + 1]!;
    const sUp = Math.min(sn, Math.sqrt((sn * sn * (s * s - sn * sn)) / (s * s)));
    const sDown = Math.sqrt(sn * sn - sUp * sUp);
    const out = model(x.map((v) => v / Math.sqrt(s * s + 1)), timesteps[i]!);
    x = x.map((v, j) => {
      const d = (v - x0FromSigmaForm(pred, out[j]!, v, s)) / s;
      return v + d * (sDown - s) + noise[i]![j]! * sUp;
    });
    traj.push(x);
  }
  return traj;
}

function vpX0Eps(pred: Pred, out: number, x: number, abar: number): [number, number] {
  const a = Math.sqrt(abar);
  const b = Math.sqrt(1 - abar);
  if (pred === 'epsilon') return [(x - b * out) / a, out];
  if (pred === 'sample') return [out, (x - a * out) / b];
  return [a * x - b * out, a * out + b * x]; // v = a·ε − b·x0
}

/** DDIM, Song et al. 2021 eq. 12 with σ_t(η) of eq. 16; previous ᾱ from t − T/n, or `finalAbar` below 0. */
export function refDdim(
  ac: number[], timesteps: number[], x: number[], model: FakeModel, pred: Pred,
  opts: { finalAbar: number; clip: number | null; eta: number; noise?: number[][] },
): number[][] {
  const traj = [x.slice()];
  const stride = Math.floor(ac.length / timesteps.length);
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i]!;
    const aT = ac[t]!;
    const aP = t - stride >= 0 ? ac[t - stride]! : opts.finalAbar;
    const sig = opts.eta * Math.sqrt(((1 - aP) / (1 - aT)) * (1 - aT / aP));
    const out = model(x, t);
    x = x.map((v, j) => {
      let [x0, eps] = vpX0Eps(pred, out[j]!, v, aT);
      if (opts.clip !== null) x0 = Math.max(-opts.clip, Math.min(opts.clip, x0));
      let r = Math.sqrt(aP) * x0 + Math.sqrt(1 - aP - sig * sig) * eps;
      if (opts.eta > 0) r += sig * opts.noise![i]![j]!;
      return r;
    });
    traj.push(x);
  }
  return traj;
}

/**
 * DPM-Solver++(2M) as k-diffusion's sample_dpmpp_2m writes it, on x_VE = x/α (α = 1/√(σ²+1)):
 * t = −log σ, first order where `firstOrder(i)`, else denoised_d = (1 + 1/2r)·D − (1/2r)·D_prev.
 * The scheduler under test works on x_VP; the trajectory returned here is converted back to x_VP.
 */
export function refDpmpp2m(sigmas: number[], timesteps: number[], xVp: number[], model: FakeModel, pred: Pred, firstOrder: (i: number) => boolean): number[][] {
  const alpha = (s: number) => 1 / Math.sqrt(s * s + 1);
  let x = xVp.map((v) => v / alpha(sigmas[0]!));
  const traj = [xVp.slice()];
  let old: number[] | null = null;
  for (let i = 0; i < timesteps.length; i++) {
    const s = sigmas[i]!;
    const sn = sigmas[i + 1]!;
    const a = alpha(s);
    const out = model(x.map((v) => v * a), timesteps[i]!); // the UNet sees the VP sample
    const denoised = x.map((v, j) => vpX0Eps(pred, out[j]!, v * a, a * a)[0]);
    const tCur = -Math.log(s);
    const tNext = -Math.log(sn);
    const h = tNext - tCur;
    const em1 = Math.expm1(-h);
    if (old === null || firstOrder(i)) {
      x = x.map((v, j) => (sn / s) * v - em1 * denoised[j]!);
    } else {
      const r = (tCur - -Math.log(sigmas[i - 1]!)) / h;
      x = x.map((v, j) => (sn / s) * v - em1 * ((1 + 1 / (2 * r)) * denoised[j]! - (1 / (2 * r)) * old![j]!));
    }
    old = denoised;
    traj.push(x.map((v) => v * alpha(sn)));
  }
  return traj;
}

/** LCM multistep sampling (Luo et al. 2023 Alg. 1) with the consistency boundary scalings (σ_data = 0.5). */
export function refLcm(
  ac: number[], timesteps: number[], x: number[], model: FakeModel, pred: Pred,
  opts: { finalAbar: number; scaling: number; clip: number | null; noise: number[][] },
): number[][] {
  const traj = [x.slice()];
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i]!;
    const u = t * opts.scaling;
    const cSkip = 0.25 / (u * u + 0.25);
    const cOut = u / Math.sqrt(u * u + 0.25);
    const out = model(x, t);
    const last = i === timesteps.length - 1;
    const aN = last ? 1 : ac[timesteps[i + 1]!]!;
    x = x.map((v, j) => {
      let [x0] = vpX0Eps(pred, out[j]!, v, ac[t]!);
      if (opts.clip !== null) x0 = Math.max(-opts.clip, Math.min(opts.clip, x0));
      const den = cOut * x0 + cSkip * v;
      return last ? den : Math.sqrt(aN) * den + Math.sqrt(1 - aN) * opts.noise[i]![j]!;
    });
    traj.push(x);
  }
  return traj;
}

/** LCM's inference timesteps: `orig` distillation steps k·(T/orig) − 1, n picked evenly from the top. */
export function refLcmTimesteps(T: number, orig: number, n: number): number[] {
  const k = Math.floor(T / orig);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((orig - Math.floor((i * orig) / n)) * k - 1);
  return out;
}

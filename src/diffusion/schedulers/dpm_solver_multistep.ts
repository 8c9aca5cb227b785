/**
 * DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2, multistep second order with the
 * "midpoint" form diffusers uses) = diffusers' DPMSolverMultistepScheduler with algorithm_type
 * "dpmsolver++", solver_type "midpoint", solver_order 2 (or 1: DDIM-equivalent first order only).
 *
 * With λ = log(α/σ) (half log-SNR), h = λ_next - λ_cur and data predictions D0 (now), D_prev (last step):
 *   first order:  x_next = (σ_next/σ_cur)·x - α_next·(e^{-h} - 1)·D0
 *   second order: same with D0 + ½·(D0 - D_prev)/r, r = h_prev/h.
 * lower_order_final drops to first order on the last step (and second order on the second-to-last stays
 * second order but cannot become third) when there are fewer than 15 steps; the last step is always first
 * order when the final σ is 0, because λ_next is then +∞.
 */
import { parseDpmSolverConfig, type DpmSolverConfig, type RawSchedulerConfig } from './config';
import { alphasCumprod, interpIndex, karrasSigmas, linspace, roundHalfEven, sigmaToT, trainingSigmas, arange } from './noise_schedule';
import { checkStep, type Scheduler } from './scheduler';
import { predictX0Vp } from './prediction';

export class DpmSolverMultistepScheduler implements Scheduler {
  readonly name = 'dpmpp_2m' as const;
  readonly config: DpmSolverConfig;
  readonly alphasCumprod: Float64Array;
  readonly initNoiseSigma = 1;
  private readonly trainSigmas: Float64Array;
  timesteps: number[] = [];
  sigmas: number[] = [];
  /** Data prediction of the previous step, and how many steps have run since setTimesteps. */
  private prevX0: Float64Array | null = null;
  private stepsDone = 0;

  constructor(raw: RawSchedulerConfig = {}) {
    this.config = parseDpmSolverConfig(raw);
    this.alphasCumprod = alphasCumprod(this.config, true);
    this.trainSigmas = trainingSigmas(this.alphasCumprod);
  }

  setTimesteps(steps: number): void {
    const c = this.config;
    const T = c.numTrainTimesteps;
    if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new RangeError(`number of steps must be an integer in 1..${T}, got ${steps}`);
    // lambda_min_clipped: leave out the tail of training steps whose λ is below the clip (cosine schedules).
    let clipped = 0;
    for (const a of this.alphasCumprod) if (0.5 * Math.log(a / (1 - a)) < c.lambdaMinClipped) clipped++;
    const last = T - clipped;
    // DPM-Solver spaces steps + 1 points and drops the final one (t = 0), unlike Euler/DDIM.
    let ts: number[];
    switch (c.timestepSpacing) {
      case 'linspace':
        ts = linspace(0, last - 1, steps + 1).map(roundHalfEven).reverse().slice(0, steps);
        break;
      case 'leading': {
        const ratio = Math.floor(last / (steps + 1));
        ts = arange(0, steps + 1, 1).map((i) => i * ratio).reverse().slice(0, steps).map((t) => t + c.stepsOffset);
        break;
      }
      case 'trailing':
        ts = arange(last, 0, -T / steps).map((t) => roundHalfEven(t) - 1);
        break;
    }
    let sigmas: number[];
    if (c.useKarrasSigmas) {
      // Unlike Euler, the Karras range here is the whole training range σ(0)..σ(T-1).
      const n = this.trainSigmas.length;
      sigmas = karrasSigmas(this.trainSigmas[0]!, this.trainSigmas[n - 1]!, steps);
      const logSigmas = this.trainSigmas.map(Math.log);
      ts = sigmas.map((s) => sigmaToT(s, logSigmas));
      if (c.betaSchedule !== 'squaredcos_cap_v2') ts = ts.map(roundHalfEven);
      ts = ts.map(Math.trunc); // diffusers stores timesteps as int64
    } else {
      sigmas = ts.map((t) => interpIndex(t, this.trainSigmas));
    }
    const final = c.finalSigmasType === 'sigma_min' ? this.trainSigmas[0]! : 0;
    this.timesteps = ts;
    this.sigmas = [...sigmas, final];
    this.prevX0 = null;
    this.stepsDone = 0;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample.slice();
  }

  step(modelOutput: Float32Array, i: number, sample: Float32Array): Float32Array {
    checkStep(this, i, modelOutput, sample);
    if (i !== this.stepsDone) throw new Error(`DPM-Solver is multistep: call step() for indices 0, 1, 2, … in order (expected ${this.stepsDone}, got ${i})`);
    const c = this.config;
    const n = this.timesteps.length;
    const lowerOrderFinal = i === n - 1 && (c.eulerAtFinal || (c.lowerOrderFinal && n < 15) || c.finalSigmasType === 'zero');
    // (lower_order_second only matters for third order, which we do not implement.)
    const firstOrder = c.solverOrder === 1 || this.prevX0 === null || lowerOrderFinal;

    const vp = (sigma: number) => {
      const alpha = 1 / Math.sqrt(sigma * sigma + 1);
      return { alpha, sigma: sigma * alpha, lambda: Math.log(alpha) - Math.log(sigma * alpha) };
    };
    const cur = vp(this.sigmas[i]!);
    const next = vp(this.sigmas[i + 1]!);
    const h = next.lambda - cur.lambda;
    const expm = Math.exp(-h) - 1;
    let r = 0;
    if (!firstOrder) {
      const prev = vp(this.sigmas[i - 1]!);
      r = (cur.lambda - prev.lambda) / h;
    }
    const ratio = next.sigma / cur.sigma; // 0 when the final σ is 0 (and then expm = -1)

    const x0 = new Float64Array(sample.length);
    const out = new Float32Array(sample.length);
    for (let j = 0; j < out.length; j++) {
      const d0 = predictX0Vp(c.predictionType, modelOutput[j]!, sample[j]!, cur.alpha, cur.sigma);
      x0[j] = d0;
      let d = d0;
      if (!firstOrder) d = d0 + 0.5 * ((d0 - this.prevX0![j]!) / r);
      out[j] = ratio * sample[j]! - next.alpha * expm * d;
    }
    this.prevX0 = x0;
    this.stepsDone++;
    return out;
  }
}

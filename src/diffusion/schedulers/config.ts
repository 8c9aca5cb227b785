/**
 * The options of a diffusers `scheduler/scheduler_config.json` that our schedulers honour, parsed with
 * each diffusers class's own defaults (they differ: DDIM clips samples by default, Euler does not, …).
 * Keys we do not implement are ignored unless they change the maths, in which case parsing throws
 * `UnsupportedSchedulerConfig` rather than silently producing a different image.
 */

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';
export type FinalSigmasType = 'zero' | 'sigma_min';

/** Options shared by every scheduler (all resolved: no undefined). */
export interface BaseSchedulerConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: BetaSchedule;
  /** Explicit betas (diffusers `trained_betas`); overrides the three fields above when set. */
  trainedBetas: number[] | null;
  predictionType: PredictionType;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
  /** Lin et al. 2023 zero-terminal-SNR rescale of the betas. */
  rescaleBetasZeroSnr: boolean;
}

export interface EulerConfig extends BaseSchedulerConfig {
  useKarrasSigmas: boolean;
  /** Karras range overrides (diffusers `sigma_min` / `sigma_max`); null = the schedule's own ends. */
  sigmaMin: number | null;
  sigmaMax: number | null;
  finalSigmasType: FinalSigmasType;
}

export type EulerAncestralConfig = BaseSchedulerConfig;

export interface DdimConfig extends BaseSchedulerConfig {
  clipSample: boolean;
  clipSampleRange: number;
  setAlphaToOne: boolean;
}

export interface DpmSolverConfig extends BaseSchedulerConfig {
  solverOrder: 1 | 2;
  lowerOrderFinal: boolean;
  eulerAtFinal: boolean;
  useKarrasSigmas: boolean;
  finalSigmasType: FinalSigmasType;
  lambdaMinClipped: number;
}

export interface LcmConfig extends BaseSchedulerConfig {
  originalInferenceSteps: number;
  clipSample: boolean;
  clipSampleRange: number;
  setAlphaToOne: boolean;
  timestepScaling: number;
}

/** A scheduler_config.json as found in a diffusers export (snake_case keys, all optional). */
export type RawSchedulerConfig = Record<string, unknown>;

export class UnsupportedSchedulerConfig extends Error {
  readonly code = 'UnsupportedSchedulerConfig';
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedSchedulerConfig';
  }
}

function num(raw: RawSchedulerConfig, key: string, dflt: number): number {
  const v = raw[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UnsupportedSchedulerConfig(`${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function bool(raw: RawSchedulerConfig, key: string, dflt: boolean): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new UnsupportedSchedulerConfig(`${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<T extends string>(raw: RawSchedulerConfig, key: string, allowed: readonly T[], dflt: T): T {
  const v = raw[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new UnsupportedSchedulerConfig(`${key} ${JSON.stringify(v)} is not supported; use one of ${allowed.join(', ')}`);
  }
  return v as T;
}

/** Rejects options whose non-default values would change results in ways we do not implement. */
function rejectUnsupported(raw: RawSchedulerConfig, checks: Record<string, unknown>): void {
  for (const [key, dflt] of Object.entries(checks)) {
    const v = raw[key];
    if (v !== undefined && v !== null && v !== dflt) {
      throw new UnsupportedSchedulerConfig(`${key} = ${JSON.stringify(v)} is not implemented (only ${JSON.stringify(dflt)})`);
    }
  }
}

/** Defaults of diffusers' base arguments; `d` holds the class-specific ones. */
function parseBase(raw: RawSchedulerConfig, d: Partial<BaseSchedulerConfig> = {}): BaseSchedulerConfig {
  const trained = raw['trained_betas'];
  if (trained !== undefined && trained !== null && !(Array.isArray(trained) && trained.every((b) => typeof b === 'number'))) {
    throw new UnsupportedSchedulerConfig('trained_betas must be an array of numbers');
  }
  rejectUnsupported(raw, { thresholding: false });
  const cfg: BaseSchedulerConfig = {
    numTrainTimesteps: num(raw, 'num_train_timesteps', d.numTrainTimesteps ?? 1000),
    betaStart: num(raw, 'beta_start', d.betaStart ?? 0.0001),
    betaEnd: num(raw, 'beta_end', d.betaEnd ?? 0.02),
    betaSchedule: oneOf(raw, 'beta_schedule', ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const, d.betaSchedule ?? 'linear'),
    trainedBetas: Array.isArray(trained) ? (trained as number[]) : null,
    predictionType: oneOf(raw, 'prediction_type', ['epsilon', 'v_prediction', 'sample'] as const, d.predictionType ?? 'epsilon'),
    timestepSpacing: oneOf(raw, 'timestep_spacing', ['leading', 'trailing', 'linspace'] as const, d.timestepSpacing ?? 'linspace'),
    stepsOffset: num(raw, 'steps_offset', d.stepsOffset ?? 0),
    rescaleBetasZeroSnr: bool(raw, 'rescale_betas_zero_snr', false),
  };
  if (!Number.isInteger(cfg.numTrainTimesteps) || cfg.numTrainTimesteps < 2) {
    throw new UnsupportedSchedulerConfig(`num_train_timesteps must be an integer >= 2, got ${cfg.numTrainTimesteps}`);
  }
  return cfg;
}

export function parseEulerConfig(raw: RawSchedulerConfig): EulerConfig {
  rejectUnsupported(raw, { interpolation_type: 'linear', use_exponential_sigmas: false, use_beta_sigmas: false, timestep_type: 'discrete' });
  const sigmaMin = raw['sigma_min'];
  const sigmaMax = raw['sigma_max'];
  return {
    ...parseBase(raw),
    useKarrasSigmas: bool(raw, 'use_karras_sigmas', false),
    sigmaMin: typeof sigmaMin === 'number' ? sigmaMin : null,
    sigmaMax: typeof sigmaMax === 'number' ? sigmaMax : null,
    finalSigmasType: oneOf(raw, 'final_sigmas_type', ['zero', 'sigma_min'] as const, 'zero'),
  };
}

export function parseEulerAncestralConfig(raw: RawSchedulerConfig): EulerAncestralConfig {
  return parseBase(raw);
}

export function parseDdimConfig(raw: RawSchedulerConfig): DdimConfig {
  return {
    ...parseBase(raw, { timestepSpacing: 'leading' }),
    clipSample: bool(raw, 'clip_sample', true),
    clipSampleRange: num(raw, 'clip_sample_range', 1),
    setAlphaToOne: bool(raw, 'set_alpha_to_one', true),
  };
}

export function parseDpmSolverConfig(raw: RawSchedulerConfig): DpmSolverConfig {
  // We implement the deterministic DPM-Solver++ family; 'dpmsolver' (noise-prediction form), SDE variants,
  // third order and the Heun corrector are not what the SD pipelines ship with.
  rejectUnsupported(raw, {
    algorithm_type: 'dpmsolver++',
    solver_type: 'midpoint',
    use_lu_lambdas: false,
    use_exponential_sigmas: false,
    use_beta_sigmas: false,
    use_flow_sigmas: false,
    variance_type: null,
  });
  const order = num(raw, 'solver_order', 2);
  if (order !== 1 && order !== 2) throw new UnsupportedSchedulerConfig(`solver_order ${order} is not implemented (1 or 2)`);
  const lmc = raw['lambda_min_clipped'];
  return {
    ...parseBase(raw),
    solverOrder: order,
    lowerOrderFinal: bool(raw, 'lower_order_final', true),
    eulerAtFinal: bool(raw, 'euler_at_final', false),
    useKarrasSigmas: bool(raw, 'use_karras_sigmas', false),
    finalSigmasType: oneOf(raw, 'final_sigmas_type', ['zero', 'sigma_min'] as const, 'zero'),
    // JSON cannot hold -Infinity; diffusers writes it as the string "-inf" when saving.
    lambdaMinClipped: typeof lmc === 'number' ? lmc : -Infinity,
  };
}

export function parseLcmConfig(raw: RawSchedulerConfig): LcmConfig {
  return {
    ...parseBase(raw, { betaStart: 0.00085, betaEnd: 0.012, betaSchedule: 'scaled_linear', timestepSpacing: 'leading' }),
    originalInferenceSteps: num(raw, 'original_inference_steps', 50),
    clipSample: bool(raw, 'clip_sample', false),
    clipSampleRange: num(raw, 'clip_sample_range', 1),
    setAlphaToOne: bool(raw, 'set_alpha_to_one', true),
    timestepScaling: num(raw, 'timestep_scaling', 10),
  };
}

/**
 * Schedulers for Stable Diffusion, one file each, matching Hugging Face diffusers' formulas and
 * honouring the options of a model's `scheduler/scheduler_config.json`.
 */
import type { RawSchedulerConfig } from './config';
import { DdimScheduler, type DdimOptions } from './ddim';
import { DpmSolverMultistepScheduler } from './dpm_solver_multistep';
import { EulerScheduler } from './euler';
import { EulerAncestralScheduler } from './euler_ancestral';
import { LcmScheduler } from './lcm';
import type { Scheduler, SchedulerName } from './scheduler';

export type { Scheduler, SchedulerName } from './scheduler';
export * from './config';
export { EulerScheduler } from './euler';
export { EulerAncestralScheduler } from './euler_ancestral';
export { DdimScheduler, type DdimOptions } from './ddim';
export { DpmSolverMultistepScheduler } from './dpm_solver_multistep';
export { LcmScheduler } from './lcm';
export { SD_TURBO_SCHEDULER_CONFIG, SD_TURBO_STEPS } from './sd_turbo';

/** diffusers class names (the config's `_class_name`) → our names. */
const BY_CLASS: Record<string, SchedulerName> = {
  EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler_ancestral',
  DDIMScheduler: 'ddim',
  DPMSolverMultistepScheduler: 'dpmpp_2m',
  LCMScheduler: 'lcm',
};

export const SCHEDULER_NAMES: readonly SchedulerName[] = ['euler', 'euler_ancestral', 'ddim', 'dpmpp_2m', 'lcm'];

/**
 * A scheduler by our name or by diffusers class name. The config is the model's scheduler_config.json;
 * only the noise-schedule fields carry over when picking a different class than the one it names (as
 * diffusers' `from_config` does): class-specific keys such as DPM's solver_order are simply read if present.
 */
export function createScheduler(name: SchedulerName | string, config: RawSchedulerConfig = {}, options: DdimOptions = {}): Scheduler {
  const key = (SCHEDULER_NAMES as readonly string[]).includes(name) ? (name as SchedulerName) : BY_CLASS[name];
  switch (key) {
    case 'euler':
      return new EulerScheduler(config);
    case 'euler_ancestral':
      return new EulerAncestralScheduler(config);
    case 'ddim':
      return new DdimScheduler(config, options);
    case 'dpmpp_2m':
      return new DpmSolverMultistepScheduler(config);
    case 'lcm':
      return new LcmScheduler(config);
    default:
      throw new Error(`unknown scheduler ${JSON.stringify(name)}; use one of ${SCHEDULER_NAMES.join(', ')} or a diffusers class name (${Object.keys(BY_CLASS).join(', ')})`);
  }
}

/** The scheduler a model's own config names (`_class_name`), e.g. SD 1.5 → PNDM is not supported, so pass a name. */
export function schedulerFromConfig(config: RawSchedulerConfig): Scheduler {
  const cls = config['_class_name'];
  if (typeof cls !== 'string' || !(cls in BY_CLASS)) {
    throw new Error(`scheduler class ${JSON.stringify(cls)} is not implemented; pick one of ${SCHEDULER_NAMES.join(', ')} with createScheduler(name, config)`);
  }
  return createScheduler(cls, config);
}

/**
 * loadDiffusion as pages call it. Like loadModel, in a browser the pipeline runs in the dedicated inpage Web
 * Worker by default (so a 20-step generation never blocks the page), in this thread with `worker: false`,
 * in Node, or with options that cannot be sent to a worker (a custom fetch). Both give the same
 * DiffusionModel; `info.runtime` and `info.runtimeReason` say which. The worker serves ./diffusion_host.ts;
 * the page talks to it through ./diffusion_client.ts; either way ./diffusion_engine_load.ts opens the files.
 */
import type { DiffusionInfo } from '../diffusion/load';
import type { DiffusionImage, GenerateOptions } from '../diffusion/pipeline';
import { InvalidArgumentError } from '../errors';
import { connectDiffusion } from './diffusion_client';
import { loadDiffusionInThread, type DiffusionLoadOptions } from './diffusion_engine_load';
import { chooseWorkerRuntime, startWorker, type WorkerLocation } from './spawn';

export type { DiffusionLoadOptions };

export interface LoadDiffusionOptions extends DiffusionLoadOptions, WorkerLocation {
  /**
   * Run the pipeline in a Web Worker (default: yes where Worker exists and the options can be sent there).
   * `worker: true` fails if the worker cannot start; the default falls back to this thread.
   */
  worker?: boolean;
}

export interface DiffusionModel {
  readonly info: DiffusionInfo;
  /** Text to image. Resolves with the RGBA pixels (and toBlob() for a PNG). */
  generate(options: GenerateOptions): Promise<DiffusionImage>;
  /** Frees the sessions (and ends the worker). */
  unload(): Promise<void>;
}

export async function loadDiffusion(options: LoadDiffusionOptions): Promise<DiffusionModel> {
  if (!options || typeof options !== 'object') throw new InvalidArgumentError('loadDiffusion: pass an options object with url or files');
  // A custom fetch is a function: it cannot be sent to a worker.
  const choice = chooseWorkerRuntime(options.worker, options.fetch !== undefined ? 'fetch' : undefined);
  if (!choice.worker) return inThread(options, choice.reason);
  let worker: Worker;
  try {
    worker = await startWorker(options);
  } catch (e) {
    if (options.worker === true) throw e;
    console.warn(`inpage: ${(e as Error).message}. Running diffusion in this thread instead.`);
    return inThread(options, `the worker did not start (${(e as Error).message})`);
  }
  return connectDiffusion(worker, options, () => worker.terminate(), choice.reason);
}

async function inThread(o: LoadDiffusionOptions, reason: string): Promise<DiffusionModel> {
  const { pipeline, info } = await loadDiffusionInThread(o);
  Object.assign(info, { runtime: 'in-thread', runtimeReason: reason });
  let unloaded = false;
  return {
    info,
    generate(g) {
      if (unloaded) return Promise.reject(new InvalidArgumentError('this diffusion model was unloaded'));
      return pipeline.generate(g);
    },
    async unload() {
      if (unloaded) return;
      unloaded = true;
      await pipeline.unload();
    },
  };
}

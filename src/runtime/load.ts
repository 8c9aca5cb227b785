/**
 * loadModel as pages call it: in a browser the engine runs in a dedicated Web Worker by default, so that
 * generation never blocks the page; in Node, with `worker: false`, or with a `gpu` passed in (a GPU
 * object cannot move to another thread) it runs in the calling thread. Either way the runtime opens the
 * weights (through the IndexedDB cache, ./engine_load.ts) and the engine reads them. Both give the same
 * API (see ./types.ts); `info.runtime` and `info.runtimeReason` say which.
 */
import { InvalidArgumentError } from '../errors';
import { connectModel, uncloneableOption } from './client';
import { loadEngine, type RuntimeLoadOptions } from './engine_load';
import { chooseWorkerRuntime, startWorker, type WorkerLocation } from './spawn';
import type { LanguageModel, ModelInfo } from './types';

export interface LoadModelOptions extends Omit<RuntimeLoadOptions, 'worker'>, WorkerLocation {
  /**
   * Run the engine in a dedicated Web Worker (default: yes where `Worker` exists and no `gpu` is passed).
   * The page then only sends requests and receives text. If the worker script cannot be started, the
   * default falls back to this thread (with a console warning); `worker: true` fails instead.
   * `worker: false` runs the engine in the calling thread.
   */
  worker?: boolean;
}

export async function loadModel(options: LoadModelOptions): Promise<LanguageModel> {
  const choice = chooseRuntime(options);
  if (!choice.worker) return inThread(options, choice.reason);
  let worker: Worker;
  try {
    worker = await startWorker(options);
  } catch (e) {
    if (options.worker === true) throw e;
    console.warn(`inpage: ${(e as Error).message}. Running the model in this thread instead.`);
    return inThread(options, `the worker did not start (${(e as Error).message})`);
  }
  return connectModel(worker, options as RuntimeLoadOptions & Record<string, unknown>, () => worker.terminate(), choice.reason);
}

function chooseRuntime(o: LoadModelOptions): { worker: boolean; reason: string } {
  if (o.worker !== false && o.gpu !== undefined) {
    if (o.worker === true) throw new InvalidArgumentError('a gpu object cannot be moved into a worker: pass worker: false, or leave out gpu');
    return { worker: false, reason: 'a gpu was passed in (it cannot move to a worker)' };
  }
  return chooseWorkerRuntime(o.worker, uncloneableOption(o));
}

async function inThread(options: LoadModelOptions, reason: string): Promise<LanguageModel> {
  const { worker: _w, workerUrl: _u, baseUrl: _b, ...engineOptions } = options;
  const llm = await loadEngine(engineOptions);
  Object.assign(llm.info, { runtime: 'in-thread', runtimeReason: reason } satisfies Pick<ModelInfo, 'runtime' | 'runtimeReason'>);
  return llm as unknown as LanguageModel;
}

/**
 * The worker side of loadDiffusion: a DiffusionHost served over comlink on a MessagePort the page sends to
 * the inpage worker (src/runtime/inpage.worker.ts hands it to exposeDiffusion). One pipeline per port.
 * Errors leave as SerializedError (./protocol.ts), so the page rebuilds the same classes.
 */
import { expose, releaseProxy, transfer, type Endpoint, type Remote } from 'comlink';
import type { DiffusionInfo, DiffusionLoadProgress } from '../diffusion/load';
import type { DiffusionPipeline, GenerateOptions, StepEvent } from '../diffusion/pipeline';
import { loadDiffusionInThread, type DiffusionLoadOptions } from './diffusion_engine_load';
import { serializeError } from './protocol';

/** The message that carries a diffusion port to the worker: `{ [DIFFUSION_PORT]: port }`. */
export const DIFFUSION_PORT = 'inpage-diffusion-port';

export type WorkerDiffusionLoadOptions = Omit<DiffusionLoadOptions, 'onProgress' | 'signal' | 'fetch'>;
export type WorkerGenerateOptions = Omit<GenerateOptions, 'onStep' | 'signal'> & { wantSteps?: boolean };

/** What crosses back: the image without toBlob (the page adds it). */
export interface WorkerImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
  seed: number;
  timings: { textEncoder: number; unet: number; vae: number; total: number; perStep: number };
}

type Callback<T> = ((e: T) => void) | Remote<(e: T) => void>;

async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw serializeError(e);
  }
}

function release(cb: unknown): void {
  const r = (cb as Partial<Remote<object>> | undefined)?.[releaseProxy];
  if (typeof r === 'function') r();
}

export class DiffusionHost {
  private pipeline?: DiffusionPipeline;
  private readonly aborts = new Map<number, AbortController>();

  load(options: WorkerDiffusionLoadOptions, onProgress?: Callback<DiffusionLoadProgress>): Promise<DiffusionInfo> {
    return guarded(async () => {
      if (this.pipeline) throw new Error('this port already holds a diffusion model');
      const delivered: Promise<unknown>[] = [];
      try {
        const { pipeline, info } = await loadDiffusionInThread({
          ...options,
          onProgress: onProgress ? (e) => void delivered.push(Promise.resolve(onProgress(e)).catch(() => {})) : undefined,
        });
        this.pipeline = pipeline;
        await Promise.all(delivered);
        return info;
      } finally {
        release(onProgress);
      }
    });
  }

  generate(id: number, options: WorkerGenerateOptions, onStep?: Callback<StepEvent>): Promise<WorkerImage> {
    return guarded(async () => {
      if (!this.pipeline) throw new Error('no diffusion model is loaded in this worker');
      const controller = new AbortController();
      this.aborts.set(id, controller);
      try {
        const image = await this.pipeline.generate({
          ...options,
          signal: controller.signal,
          onStep: onStep ? (e) => void Promise.resolve(onStep(e)).catch(() => {}) : undefined,
        });
        const out: WorkerImage = { width: image.width, height: image.height, data: image.data, seed: image.seed, timings: image.timings };
        return transfer(out, [image.data.buffer as ArrayBuffer]);
      } finally {
        this.aborts.delete(id);
        release(onStep);
      }
    });
  }

  abort(id: number): void {
    this.aborts.get(id)?.abort();
  }

  unload(): Promise<void> {
    return guarded(async () => {
      const p = this.pipeline;
      this.pipeline = undefined;
      await p?.unload();
    });
  }
}

export function exposeDiffusion(endpoint: Endpoint): DiffusionHost {
  const host = new DiffusionHost();
  expose(host, endpoint);
  return host;
}

/**
 * The page side of a worker-backed diffusion model: sends a MessagePort to the inpage worker, which serves
 * a DiffusionHost (./diffusion_host.ts) on it, and wraps that host as a DiffusionModel. Callbacks (onProgress,
 * onStep) go as comlink proxies; an AbortSignal becomes an abort call; errors come back as the same
 * InpageError classes; the image comes back as transferred bytes and gets its toBlob() here.
 */
import { proxy, wrap, type Remote } from 'comlink';
import { makeImage } from '../diffusion/image';
import type { DiffusionLoadProgress } from '../diffusion/load';
import type { DiffusionImage, StepEvent } from '../diffusion/pipeline';
import { InvalidArgumentError } from '../errors';
import { DIFFUSION_PORT, type DiffusionHost, type WorkerDiffusionLoadOptions } from './diffusion_host';
import type { DiffusionModel, LoadDiffusionOptions } from './diffusion_load';
import { rehydrate } from './protocol';
import { pageBase } from './spawn';

const PAGE_ONLY = new Set(['onProgress', 'signal', 'fetch', 'worker', 'workerUrl', 'baseUrl']);

export async function connectDiffusion(worker: Worker, options: LoadDiffusionOptions, close: () => void, runtimeReason: string): Promise<DiffusionModel> {
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ [DIFFUSION_PORT]: port2 }, [port2]);
  const host = wrap<DiffusionHost>(port1);
  const { signal, onProgress } = options;
  const cloneable: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!PAGE_ONLY.has(k)) cloneable[k] = v;
  // Relative URLs mean relative to the page, not to the worker script.
  if (typeof cloneable.url === 'string') {
    const base = pageBase();
    if (base) cloneable.url = new URL(cloneable.url, base).href;
  }
  if (typeof cloneable.ortWasmPaths === 'string') {
    const base = pageBase();
    if (base) cloneable.ortWasmPaths = new URL(cloneable.ortWasmPaths, base).href;
  }
  let crashed: unknown;
  const crash = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (ev) => {
      crashed = new Error(`inpage worker crashed: ${(ev as ErrorEvent).message ?? 'unknown error'}`);
      reject(crashed);
    });
  });
  crash.catch(() => {});
  let info;
  try {
    signal?.throwIfAborted();
    const aborted = new Promise<never>((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
    const progress = onProgress ? proxy((e: DiffusionLoadProgress) => onProgress(e)) : undefined;
    info = await Promise.race([host.load(cloneable as WorkerDiffusionLoadOptions, progress), aborted, crash]);
  } catch (e) {
    close();
    throw rehydrate(e);
  }
  return new RemoteDiffusionModel(host, { ...info, runtime: 'worker', runtimeReason }, close, () => crashed, crash);
}

class RemoteDiffusionModel implements DiffusionModel {
  private unloaded = false;
  private nextId = 1;

  constructor(
    private readonly host: Remote<DiffusionHost>,
    readonly info: DiffusionModel['info'],
    private readonly close: () => void,
    private readonly crashed: () => unknown,
    private readonly crash: Promise<never>,
  ) {}

  async generate(options: Parameters<DiffusionModel['generate']>[0]): Promise<DiffusionImage> {
    if (this.crashed()) throw this.crashed();
    if (this.unloaded) throw new InvalidArgumentError('this diffusion model was unloaded');
    const { onStep, signal, ...rest } = options;
    signal?.throwIfAborted();
    const id = this.nextId++;
    const onAbort = () => void this.host.abort(id);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const step = onStep ? proxy((e: StepEvent) => onStep(e)) : undefined;
      const r = await Promise.race([this.host.generate(id, rest, step), this.crash]);
      return Object.assign(makeImage(r.width, r.height, r.data), { seed: r.seed, timings: r.timings });
    } catch (e) {
      throw rehydrate(e);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async unload(): Promise<void> {
    if (this.unloaded) return;
    this.unloaded = true;
    if (this.crashed()) return;
    try {
      await Promise.race([this.host.unload(), this.crash]);
    } catch (e) {
      if (e !== this.crashed()) throw rehydrate(e);
    } finally {
      this.close();
    }
  }
}

/**
 * Watches a started worker for a crash. An `error` event on the Worker means an error escaped every handler
 * in it (or the script could no longer run): the engine's state there is unknown, so the model is over —
 * the worker is terminated (its GPU memory goes with it), every request in flight rejects with
 * WorkerCrashedError, and so does every later call. We do not respawn the worker behind the caller's back:
 * that would silently reload the weights (seconds to minutes, and the GPU memory again) and drop the
 * conversation's state, and a crash that repeats would loop. The page decides: `loadModel` again (a cached
 * model loads with no download).
 *
 * Without the watch, comlink's calls to a dead worker would never settle and the page would wait forever.
 */
import { WorkerCrashedError } from '../errors';

/** What can report the crash: a Worker (tests use a stand-in with the same events). */
export interface CrashSource {
  addEventListener(type: 'error', listener: (ev: Event) => void): void;
  removeEventListener(type: 'error', listener: (ev: Event) => void): void;
}

export class Lifeline {
  private error?: WorkerCrashedError;
  private readonly listeners = new Set<(e: WorkerCrashedError) => void>();
  private readonly onError = (ev: Event) => this.crash(describe(ev), (ev as { error?: unknown }).error);

  /** `onCrash` runs once, first, when the crash is seen (it terminates the worker). */
  constructor(private readonly source: CrashSource | undefined, private readonly onCrash: () => void) {
    source?.addEventListener('error', this.onError);
  }

  /** The crash, once there was one. */
  get failure(): WorkerCrashedError | undefined {
    return this.error;
  }

  crash(detail: string, cause?: unknown): void {
    if (this.error) return;
    this.error = new WorkerCrashedError(detail, cause === undefined ? undefined : { cause });
    this.stop();
    this.onCrash();
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const l of listeners) l(this.error);
  }

  /** Calls `listener` on a crash (at once if there was one); returns the function that stops watching. */
  watch(listener: (e: WorkerCrashedError) => void): () => void {
    if (this.error) {
      listener(this.error);
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `p`, unless the worker crashes first: then the crash. */
  race<T>(p: Promise<T>): Promise<T> {
    if (this.error) return Promise.reject(this.error);
    return new Promise<T>((resolve, reject) => {
      const off = this.watch(reject);
      p.then(
        (v) => {
          off();
          resolve(v);
        },
        (e: unknown) => {
          off();
          reject(e);
        },
      );
    });
  }

  /** Stops watching (the worker is being ended on purpose). */
  stop(): void {
    this.source?.removeEventListener('error', this.onError);
  }
}

function describe(ev: Event): string {
  const e = ev as Partial<ErrorEvent>;
  if (e.message) return e.filename ? `${e.message} (${e.filename}:${e.lineno ?? 0})` : e.message;
  return 'the worker reported an error event with no message (it may have run out of memory)';
}

/** The endpoint as a CrashSource when it has events (a Worker, a MessagePort), else undefined. */
export function crashSourceOf(endpoint: unknown): CrashSource | undefined {
  const e = endpoint as Partial<CrashSource> | null;
  return e && typeof e.addEventListener === 'function' && typeof e.removeEventListener === 'function' ? (e as CrashSource) : undefined;
}

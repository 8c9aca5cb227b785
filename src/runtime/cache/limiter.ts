/** A counting semaphore: at most `max` holders at once, the rest wait in arrival order. */
export class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private max: number) {
    this.setMax(max);
  }

  setMax(max: number): void {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`a parallelism bound must be a positive integer, got ${max}`);
    this.max = max;
    while (this.active < this.max && this.queue.length > 0) {
      this.active++;
      this.queue.shift()!();
    }
  }

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Waits for a slot; the returned function gives it back (calling it twice is harmless). */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.active < this.max) {
      this.active++;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const go = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const at = this.queue.indexOf(go);
        if (at >= 0) this.queue.splice(at, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(go);
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Hand the slot straight to the next waiter (the active count stays), or free it.
      if (this.active <= this.max && this.queue.length > 0) this.queue.shift()!();
      else this.active--;
    };
  }
}

/** Downloads into the cache that run at once across the page (several files: shards, multi-file models). */
export const DEFAULT_PARALLEL_DOWNLOADS = 2;
export const downloadLimiter = new Limiter(DEFAULT_PARALLEL_DOWNLOADS);

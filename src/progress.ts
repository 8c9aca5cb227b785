/**
 * Transfer rate and ETA over a sliding window, and a throttle for progress events. Imports nothing, so every
 * layer may use it (the weight cache for downloads and reads, the engine for the GPU upload).
 */
export class RateMeter {
  private samples: { t: number; bytes: number }[] = [];

  constructor(private readonly windowMs = 3000, private readonly now: () => number = () => performance.now()) {}

  /** Records the running total of bytes moved; returns bytes per second over the window (0 until measurable). */
  update(totalBytes: number): number {
    const t = this.now();
    this.samples.push({ t, bytes: totalBytes });
    while (this.samples.length > 2 && t - this.samples[1]!.t >= this.windowMs) this.samples.shift();
    return this.rate();
  }

  rate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.t - first.t <= 0) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.t - first.t);
  }

  /** Seconds until `remainingBytes` are moved at the current rate (undefined while the rate is unknown). */
  eta(remainingBytes: number): number | undefined {
    if (remainingBytes <= 0) return 0;
    const r = this.rate();
    return r > 0 ? remainingBytes / r : undefined;
  }
}

/** Lets an event through at most every `intervalMs`, and always when `force` is set (first and last events). */
export class Throttle {
  private last = -Infinity;
  constructor(private readonly intervalMs = 100, private readonly now: () => number = () => performance.now()) {}
  ready(force = false): boolean {
    const t = this.now();
    if (!force && t - this.last < this.intervalMs) return false;
    this.last = t;
    return true;
  }
}

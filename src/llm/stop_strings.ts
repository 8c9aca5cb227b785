/**
 * Streams generated text while watching for stop strings. Text that could still turn out to be the start
 * of a stop string is held back, so a stop string never leaks into the output, even when it arrives split
 * over several tokens.
 */
export class StopStringFilter {
  private pending = '';
  private stopped = false;

  constructor(private readonly stops: readonly string[]) {}

  get hasStopped(): boolean {
    return this.stopped;
  }

  /** Adds newly decoded text; returns the text that is now safe to emit. */
  push(text: string): string {
    if (this.stopped) return '';
    this.pending += text;
    let cut = -1;
    for (const s of this.stops) {
      if (!s) continue;
      const at = this.pending.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = true;
      const out = this.pending.slice(0, cut);
      this.pending = '';
      return out;
    }
    // Hold back the longest suffix that is a proper prefix of some stop string.
    let hold = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.pending.length); k > hold; k--) {
        if (this.pending.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    const out = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return out;
  }

  /** At the end of generation: whatever was held back and turned out not to be a stop string. */
  flush(): string {
    const out = this.stopped ? '' : this.pending;
    this.pending = '';
    return out;
  }
}

/**
 * One request at a time on a model, in the order they were made — and nothing can hold the model hostage.
 * This is the one cancellation path of a model's requests:
 *  - a request waiting for its turn settles as soon as its signal aborts (it never reaches the GPU);
 *  - `close()` (unload) aborts the running request and every waiting one;
 *  - a stream whose consumer stopped pulling gives up its turn when another request (or unload) is
 *    waiting and the stream has not been read for `idleMs`, or when the stream is garbage-collected;
 *    reading it afterwards throws AbortError. A consumer that keeps reading, however slowly, is never cut.
 */
import { AbortError, abortErrorOf } from '../errors';

/** Default for how long an unread stream may keep others waiting (LoadModelOptions.streamIdleTimeoutMs). */
export const STREAM_IDLE_MS = 10_000;

/** A request's hold on the model, from its turn until it ends or is cancelled. */
export class Turn {
  private readonly cancelled = new AbortController();
  /** Aborts when the request's own signal does, when the model closes, or when the turn is taken away. */
  readonly signal: AbortSignal;
  /** When the request last handed a chunk to its consumer and is waiting to be pulled again. */
  private parkedAt: number | undefined;
  private ended = false;

  constructor(private readonly queue: RequestQueue, signals: AbortSignal[]) {
    this.signal = AbortSignal.any([...signals, this.cancelled.signal]);
  }

  /** Around each `yield` to the consumer: between the two, the request waits on its reader, not the GPU. */
  park(): void {
    this.parkedAt = performance.now();
    this.queue.onParked();
  }
  unpark(): void {
    this.parkedAt = undefined;
  }
  idleFor(now: number): number | undefined {
    return this.parkedAt === undefined ? undefined : now - this.parkedAt;
  }

  /** Ends the turn: the next request may run. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.onEnded(this);
  }

  /** Takes the turn away (the request is parked, so no GPU work is under way); its next step throws. */
  revoke(reason: string): void {
    this.cancelled.abort(new AbortError(reason));
    this.end();
  }
}

interface Waiter {
  turn: Turn;
  start: () => void;
}

export class RequestQueue {
  private running: Turn | undefined;
  private readonly waiting: Waiter[] = [];
  private readonly closing = new AbortController();
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private drained: (() => void) | undefined;
  /** A stream dropped unread gives its turn back (see the module comment). */
  private readonly abandoned = new FinalizationRegistry<{ turn?: Turn }>((box) => box.turn?.revoke('the stream was garbage-collected before it was read to the end'));

  constructor(private readonly idleMs = STREAM_IDLE_MS) {}

  get closed(): boolean {
    return this.closing.signal.aborted;
  }

  /** Waits for the requests before this one; rejects with AbortError as soon as `signal` aborts. */
  take(signal: AbortSignal | undefined): Promise<Turn> {
    const turn = new Turn(this, signal ? [signal, this.closing.signal] : [this.closing.signal]);
    return new Promise<Turn>((resolve, reject) => {
      const abort = () => {
        const at = this.waiting.findIndex((w) => w.turn === turn);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(abortErrorOf(turn.signal, 'the request'));
      };
      if (turn.signal.aborted) return abort();
      turn.signal.addEventListener('abort', abort, { once: true });
      const start = () => {
        turn.signal.removeEventListener('abort', abort);
        this.running = turn;
        resolve(turn);
      };
      if (this.running) {
        this.waiting.push({ turn, start });
        this.onParked();
      } else start();
    });
  }

  /** Lets `stream` give its turn back if it is garbage-collected unread; `box.turn` is set once it runs. */
  watch(stream: object, box: { turn?: Turn }): void {
    this.abandoned.register(stream, box);
  }

  /** Aborts everything (running and waiting) and resolves once the running request has let go. */
  close(reason: string): Promise<void> {
    if (!this.closed) this.closing.abort(new AbortError(reason));
    if (!this.running) return Promise.resolve();
    // A parked stream would only notice at its next pull, which may never come.
    if (this.running.idleFor(performance.now()) !== undefined) this.running.revoke(reason);
    return this.running ? new Promise<void>((r) => (this.drained = r)) : Promise.resolve();
  }

  onEnded(turn: Turn): void {
    if (this.running !== turn) return;
    this.running = undefined;
    const next = this.waiting.shift();
    if (next) next.start();
    else {
      this.drained?.();
      this.drained = undefined;
    }
  }

  /** Someone waits, or the running request parked: revoke a stream idle too long while others wait. */
  onParked(): void {
    if (this.idleTimer !== undefined || this.waiting.length === 0 || !this.running) return;
    const idle = this.running.idleFor(performance.now());
    if (idle === undefined) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      const turn = this.running;
      const now = performance.now();
      const still = turn?.idleFor(now);
      if (turn && still !== undefined && still >= this.idleMs && this.waiting.length > 0) {
        turn.revoke(`the stream was not read for ${(still / 1000).toFixed(1)} s while another request waited`);
      } else this.onParked();
    }, Math.max(0, this.idleMs - idle));
  }
}

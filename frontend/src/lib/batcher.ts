// Batches a fast stream of items (SSE events) into at most one delivery per interval, so charts redraw
// a few times per second however fast results arrive. The pending list is bounded: when a burst
// exceeds it the oldest pending items go (the charts only show the latest points anyway).

export interface BatcherOptions {
  intervalMs: number;
  maxPending: number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export class Batcher<T> {
  private pending: T[] = [];
  private timer: unknown = null;
  /** Items dropped from the pending list because a burst exceeded `maxPending`. */
  dropped = 0;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;

  constructor(
    private readonly deliver: (items: T[]) => void,
    private readonly options: BatcherOptions,
  ) {
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  }

  push(item: T): void {
    this.pending.push(item);
    if (this.pending.length > this.options.maxPending) {
      const excess = this.pending.length - this.options.maxPending;
      this.pending.splice(0, excess);
      this.dropped += excess;
    }
    if (this.timer === null) this.timer = this.setTimer(() => this.flush(), this.options.intervalMs);
  }

  flush(): void {
    if (this.timer !== null) {
      this.clearTimer(this.timer);
      this.timer = null;
    }
    if (!this.pending.length) return;
    const items = this.pending;
    this.pending = [];
    this.deliver(items);
  }

  stop(): void {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    this.pending = [];
  }
}

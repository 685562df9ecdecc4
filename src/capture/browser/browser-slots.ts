// At most BROWSER_CONCURRENCY browsers per worker process: each is a few hundred MB of memory
// and a CPU-hungry renderer, far more than a fetch. A capture waits for a slot in turn (FIFO).
export class BrowserSlots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {}

  /** Runs fn holding one slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.used >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.used++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.used--;
    }
  }

  /** Browsers running now. */
  get running(): number {
    return this.used;
  }
}

/**
 * Image work is bounded per relay: at most `concurrency` decodes at once (each can hold tens of MB), at most
 * `maxWaiting` images waiting for a turn, and one deadline per image that counts the wait. A job past its deadline
 * is answered at once; if it was already running, its slot stays taken until the decoder really finishes (libvips
 * cannot be interrupted), so the cap stays true to the memory and CPU in use.
 */
export type Outcome<T> = { state: 'done'; value: T } | { state: 'late' } | { state: 'busy' };

interface Waiting {
  start(): void;
  expire(): void;
}

export class ImageQueue {
  private running = 0;
  private readonly waiting: Waiting[] = [];

  constructor(private readonly concurrency: number, private readonly maxWaiting: number) {}

  /** Runs `work` in its turn; 'late' when `deadlineMs` passed first (waiting or running), 'busy' when the queue is full. */
  run<T>(work: () => Promise<T>, deadlineMs: number): Promise<Outcome<T>> {
    if (this.running >= this.concurrency && this.waiting.length >= this.maxWaiting) return Promise.resolve({ state: 'busy' });
    return new Promise<Outcome<T>>((resolve) => {
      let settled = false;
      const settle = (o: Outcome<T>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(o);
      };
      const entry: Waiting = {
        start: () => {
          this.running++;
          work().then(
            (value) => settle({ state: 'done', value }),
            () => settle({ state: 'late' }), // transformImage never rejects; anything else is treated as no result
          ).finally(() => {
            this.running--;
            this.next();
          });
        },
        expire: () => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          settle({ state: 'late' });
        },
      };
      const timer = setTimeout(() => entry.expire(), deadlineMs);
      timer.unref();
      if (this.running < this.concurrency) entry.start();
      else this.waiting.push(entry);
    });
  }

  /** Images decoding now, and waiting for a turn. */
  load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  private next(): void {
    const entry = this.waiting.shift();
    entry?.start();
  }
}

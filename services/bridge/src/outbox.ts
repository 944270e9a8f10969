/**
 * A bounded queue of Matrix sends to one destination, worked one at a time in order, off every chat path:
 * a retryable failure (homeserver away, rate limit, 5xx) is retried with capped exponential backoff, a
 * permanent one is logged and dropped; when the queue is full new sends are refused and counted.
 */
import { MatrixError, sleep } from '@qchat/matrix';
import type { Logger } from 'pino';

export interface Job {
  /** Metric label: ping, text, image. */
  kind: string;
  /** Matrix transaction id: a retry, even by another bridge instance, is sent once. */
  txnId: string;
  send(txnId: string): Promise<void>;
}

export interface OutboxOptions {
  name: string;
  max: number;
  /** Attempts before a retryable failure is given up. */
  maxAttempts?: number;
  log: Logger;
  /** outcome: sent, retried, dropped (queue full or given up), failed (permanent error). */
  count(kind: string, outcome: 'sent' | 'retried' | 'dropped' | 'failed'): void;
  length(n: number): void;
  /** After a successful send, or a permanent failure not worth another try. */
  done(job: Job): Promise<void>;
}

const BASE_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
const STOP_WAIT_MS = 2_000;

export class Outbox {
  private readonly queue: Job[] = [];
  private readonly keys = new Set<string>();
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly opts: OutboxOptions) {}

  /** False when the queue is full (the job is dropped) or already holds this transaction. */
  push(job: Job): boolean {
    if (this.abort.signal.aborted || this.keys.has(job.txnId)) return false;
    if (this.queue.length >= this.opts.max) {
      this.opts.count(job.kind, 'dropped');
      this.opts.log.warn({ queue: this.opts.name, max: this.opts.max, kind: job.kind }, 'matrix queue full, send dropped');
      return false;
    }
    this.queue.push(job);
    this.keys.add(job.txnId);
    this.opts.length(this.queue.length);
    this.running ??= this.work().finally(() => { this.running = undefined; });
    return true;
  }

  pending(): number {
    return this.queue.length;
  }

  /** Stops after the send in flight; what is still queued is dropped (a successor catches up from history). */
  async stop(): Promise<void> {
    this.abort.abort();
    // A send in flight is not abortable; its timeout bounds it, but shutdown does not wait that long.
    await Promise.race([this.running, sleep(STOP_WAIT_MS)]);
    this.queue.length = 0;
    this.keys.clear();
    this.opts.length(0);
  }

  private async work(): Promise<void> {
    while (this.queue.length > 0 && !this.abort.signal.aborted) {
      const job = this.queue[0]!;
      await this.attempt(job);
      this.queue.shift();
      this.keys.delete(job.txnId);
      this.opts.length(this.queue.length);
    }
  }

  private async attempt(job: Job): Promise<void> {
    const maxAttempts = this.opts.maxAttempts ?? 10;
    for (let attempt = 1; !this.abort.signal.aborted; attempt++) {
      try {
        await job.send(job.txnId);
        this.opts.count(job.kind, 'sent');
        await this.opts.done(job).catch((err: unknown) => this.opts.log.warn({ err, queue: this.opts.name }, 'matrix send not marked as done'));
        return;
      } catch (err) {
        const retryable = !(err instanceof MatrixError) || err.retryable;
        if (!retryable) {
          this.opts.count(job.kind, 'failed');
          this.opts.log.error({ err, queue: this.opts.name, kind: job.kind }, 'matrix send refused');
          await this.opts.done(job).catch(() => undefined);
          return;
        }
        if (attempt >= maxAttempts) {
          this.opts.count(job.kind, 'dropped');
          this.opts.log.error({ err, queue: this.opts.name, kind: job.kind, attempts: attempt }, 'matrix send given up');
          return;
        }
        const wait = err instanceof MatrixError && err.details.retryAfterMs
          ? err.details.retryAfterMs
          : Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (attempt - 1));
        this.opts.count(job.kind, 'retried');
        this.opts.log.warn({ err, queue: this.opts.name, kind: job.kind, attempt, retryInMs: wait }, 'matrix send failed, retrying');
        await sleep(wait, this.abort.signal);
      }
    }
  }
}

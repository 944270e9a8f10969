import type { Logger } from 'pino';

/**
 * Errors caused by a dependency outage, logged twice per outage instead of once per request: a warning with the
 * first error when failures start, and one line with how many requests failed and for how long when the next
 * request succeeds.
 */
export class OutageLog {
  private since = 0;
  private failures = 0;

  constructor(private readonly log: Logger, private readonly what: string) {}

  failed(err: unknown, fields: Record<string, unknown> = {}): void {
    this.failures++;
    if (this.since !== 0) return;
    this.since = Date.now();
    const message = err instanceof Error ? err.message : String(err);
    this.log.warn({ ...fields, error: message }, `${this.what} unavailable: requests fail until it is back (logged once)`);
  }

  succeeded(): void {
    if (this.since === 0) return;
    this.log.info({ failed: this.failures, durationMs: Date.now() - this.since }, `${this.what} available again`);
    this.since = 0;
    this.failures = 0;
  }

  get active(): boolean {
    return this.since !== 0;
  }
}

/** Errors of a broken or closed connection to Redis or NATS (as opposed to a bug in a handler). */
export function isConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown; message?: unknown };
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (typeof e.code === 'string' && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTCONN|CONNECTION_CLOSED|CONNECTION_REFUSED|DISCONNECT)$/.test(e.code)) return true;
  return typeof e.message === 'string' && /Connection is closed|Stream isn't writeable|connect ECONNREFUSED|Reached the max retries|LOADING|READONLY/.test(e.message);
}

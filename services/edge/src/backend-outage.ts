import { QChatError } from '@qchat/protocol';
import type { OutageLog } from '@qchat/runtime';
import type { Backend } from './backend';

/** Codes of a relay or presence that cannot answer right now: an outage, not a client's fault nor a bug. */
export function isOutage(err: unknown): boolean {
  return err instanceof QChatError && (err.code === 'unavailable' || err.code === 'timeout' || err.code === 'no_responders');
}

/**
 * The same backend, reporting to `outage`: the first failing call of an outage is logged once, and the first call
 * that succeeds afterwards logs its end with the number of calls that failed meanwhile. Callers then need not log
 * each failure (a Redis outage fails every message).
 */
export function watchBackend(backend: Backend, outage: OutageLog): Backend {
  const watched = {} as Record<string, unknown>;
  for (const [op, call] of Object.entries(backend) as [string, (...args: unknown[]) => Promise<unknown>][]) {
    watched[op] = async (...args: unknown[]) => {
      try {
        const out = await call(...args);
        outage.succeeded();
        return out;
      } catch (err) {
        if (isOutage(err)) outage.failed(err, { op });
        throw err;
      }
    };
  }
  return watched as Backend;
}

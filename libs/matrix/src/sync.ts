/**
 * A continuous Matrix sync: long-polls /sync forever from a token, hands each batch to the caller before
 * asking for the next one (so the token the caller keeps always follows what it handled), and backs off on
 * failures. Only an abort or lost credentials end it.
 */
import type { MatrixClient, MatrixEvent, SyncResponse } from './client';
import { MatrixError } from './errors';

export interface SyncLoopOptions {
  client: MatrixClient;
  /** Token to continue from; unset starts with a sync that only fetches a token (no backlog). */
  since?: string;
  /** Filter of every sync; `initialFilter` for the first one when there is no token. */
  filter: object;
  /** Timeline events of the first sync when there is no token: 0 (default) relays nothing from before the start. */
  backlog?: number;
  /** Long-poll wait of each sync. */
  pollMs?: number;
  /** Called with each batch, in order; the loop waits for it. */
  onBatch(batch: SyncResponse): Promise<void>;
  /** Called after each failure, before waiting `delayMs`. */
  onError?(err: unknown, delayMs: number): void;
  signal: AbortSignal;
}

const MAX_BACKOFF_MS = 30_000;

/** Resolves when `signal` aborts; rejects with a MatrixError 'unauthorized' when the token stops working. */
export async function runSync(opts: SyncLoopOptions): Promise<void> {
  let since = opts.since;
  let failures = 0;
  while (!opts.signal.aborted) {
    try {
      const first = since === undefined;
      const backlog = opts.backlog ?? 0;
      const room = (opts.filter as { room?: { timeline?: object } }).room;
      const filter = first ? { ...opts.filter, room: { ...room, timeline: { ...room?.timeline, limit: Math.max(1, backlog) } } } : opts.filter;
      const batch = await opts.client.sync({ since, timeoutMs: first ? 0 : opts.pollMs ?? 30_000, filter, signal: opts.signal });
      if (opts.signal.aborted) return;
      if (!first || backlog > 0) await opts.onBatch(batch);
      else await opts.onBatch({ next_batch: batch.next_batch, rooms: stateOnly(batch) });
      since = batch.next_batch;
      failures = 0;
    } catch (err) {
      if (opts.signal.aborted) return;
      if (err instanceof MatrixError && err.kind === 'unauthorized') throw err;
      failures++;
      const delayMs = err instanceof MatrixError && err.details.retryAfterMs
        ? err.details.retryAfterMs
        : Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(failures - 1, 6));
      opts.onError?.(err, delayMs);
      await sleep(delayMs, opts.signal);
    }
  }
}

/** The first sync's state (member names) without any timeline: nothing from before the start is relayed. */
function stateOnly(batch: SyncResponse): SyncResponse['rooms'] {
  const join = batch.rooms?.join ?? {};
  return { join: Object.fromEntries(Object.entries(join).map(([id, room]) => [id, { state: room.state, timeline: { events: [] } }])) };
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Filter for a few rooms: their messages and the member events needed for display names. */
export function roomFilter(rooms: string[]): object {
  return {
    presence: { types: [] },
    account_data: { types: [] },
    room: {
      rooms,
      state: { types: ['m.room.member'], lazy_load_members: true },
      timeline: { types: ['m.room.message', 'm.room.member'], limit: 50 },
      ephemeral: { types: [] },
      account_data: { types: [] },
    },
  };
}

/** Display names of room members, learnt from member events (state and timeline). */
export class MemberNames {
  private readonly names = new Map<string, string>();

  learn(roomId: string, events: MatrixEvent[] | undefined): void {
    for (const e of events ?? []) {
      if (e.type !== 'm.room.member' || !e.state_key) continue;
      const name = e.content.displayname;
      if (typeof name === 'string' && name.trim() !== '') this.names.set(`${roomId}\t${e.state_key}`, name.trim());
    }
  }

  /** Display name, else the localpart of the user id (`@alice:server` → `alice`). */
  name(roomId: string, userId: string): string {
    return this.names.get(`${roomId}\t${userId}`) ?? (/^@([^:]+):/.exec(userId)?.[1] ?? userId);
  }
}

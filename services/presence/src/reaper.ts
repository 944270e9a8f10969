import type { Logger } from 'pino';
import { announceReclaimed, type HandlerDeps } from './handlers';

export interface ReaperDeps extends HandlerDeps {
  log: Logger;
  intervalMs: number;
  edgeTtlMs: number;
  /** True while this process can hear edges: NATS (their heartbeats) and Redis (their liveness keys) both up. */
  hearing: () => boolean;
}

/**
 * Reclaims the connections of edges that stopped heart-beating (killed, frozen, cut off). Every presence
 * replica runs one; the store hands each connection to exactly one of them.
 *
 * Silence means death only when the edge could have been heard: while NATS or Redis is away, and for one
 * EDGE_TTL_MS after both are back (or after this process starts), nothing is reclaimed. Otherwise an outage longer
 * than the TTL, or presence restarting, would announce every live user as gone (exiter storm) and rebuild them silently.
 */
export function startReaper(deps: ReaperDeps): () => void {
  let running = false;
  let hearingSince = Date.now();
  const tick = async () => {
    if (running) return;
    if (!deps.hearing()) {
      hearingSince = Date.now();
      return;
    }
    if (Date.now() - hearingSince < deps.edgeTtlMs) return;
    running = true;
    try {
      for (const edge of await deps.store.deadEdges()) {
        const removed = await deps.store.reclaim(edge);
        if (removed.length === 0) continue;
        deps.metrics.reclaimedConnections.inc({ reason: 'expired' }, removed.length);
        deps.log.warn({ edge, connections: removed.length }, 'edge expired, connections reclaimed');
        await announceReclaimed(deps, removed);
      }
    } catch (err) {
      hearingSince = Date.now();
      deps.log.warn({ err }, 'reclaim sweep failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), deps.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

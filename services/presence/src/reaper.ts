import type { Logger } from 'pino';
import { announceReclaimed, type HandlerDeps } from './handlers';

/**
 * Reclaims the connections of edges that stopped heart-beating (killed, frozen, cut off). Every presence
 * replica runs one; the store hands each connection to exactly one of them.
 */
export function startReaper(deps: HandlerDeps & { log: Logger; intervalMs: number }): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
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
      deps.log.warn({ err }, 'reclaim sweep failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), deps.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

import type { Logger } from 'pino';
import type { Backend } from './backend';
import type { Hub } from './ws/hub';

/**
 * Tells presence every EDGE_HEARTBEAT_MS that this edge lives and how many sockets it holds. When presence's
 * count disagrees twice in a row (Redis lost its data, a leave got lost), or once right after a failed beat, the
 * edge re-announces all its sockets and presence rebuilds its state from them.
 */
export function startHeartbeat(deps: { backend: Backend; hub: Hub; log: Logger; intervalMs: number }): () => void {
  let mismatches = 0;
  let running = false;
  let failing = false;
  const beat = async () => {
    if (running) return;
    running = true;
    try {
      const { resync } = await deps.backend.heartbeat(deps.hub.count());
      const recovered = failing;
      if (failing) deps.log.info('presence heartbeat restored');
      failing = false;
      mismatches = resync ? mismatches + 1 : 0;
      // Two disagreements in a row, so a join or leave still in flight is not taken for lost state; right after
      // presence could not be reached one is enough (Redis may have come back empty): recovery takes one beat, not two.
      if (mismatches >= 2 || (resync && recovered)) {
        mismatches = 0;
        await resyncAll(deps);
      }
    } catch (err) {
      if (!failing) deps.log.warn({ err }, 'presence heartbeat failed');
      failing = true;
    } finally {
      running = false;
    }
  };
  void beat();
  const timer = setInterval(() => void beat(), deps.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

async function resyncAll(deps: { backend: Backend; hub: Hub; log: Logger }): Promise<void> {
  const sessions = [...deps.hub.sessions()].filter((s) => !s.closed);
  const byId = new Map(sessions.map((s) => [s.id, s]));
  const { lostNicks } = await deps.backend.sync(sessions.map((s) => ({ channel: s.channel, conn: s.id, nick: s.nick })));
  for (const conn of lostNicks) {
    const s = byId.get(conn);
    s?.released();
  }
  deps.log.warn({ connections: sessions.length, lostNicks: lostNicks.length }, 'presence state rebuilt from this edge');
}

import { QChatError, QUEUE, subjects } from '@qchat/protocol';
import { serveRpc, type Requester } from '@qchat/bus';
import type { Engine } from '@qchat/engine';
import { Closers, OutageLog, registerDependencyGauge, graceReadiness, closeServer, createRegistry, isConnectionError, once, startOpsServer, type Registry } from '@qchat/runtime';
import type { Logger } from 'pino';
import { Announcer } from './announcer';
import type { PresenceConfig } from './config';
import { createHandlers } from './handlers';
import { createModerationHandlers } from './handlers/moderation';
import { createPresenceMetrics } from './metrics';
import { startReaper } from './reaper';

export interface PresenceDeps {
  config: PresenceConfig;
  log: Logger;
  /** Shared state and broadcast (presence, moderation), and the requests presence answers. */
  engine: Engine;
  requester: Requester;
  registry?: Registry;
  opsServer?: boolean;
}

export function createPresence(deps: PresenceDeps) {
  const { config, log, engine, requester } = deps;
  const closers = new Closers(log);
  const registry = deps.registry ?? createRegistry('presence');
  if (!deps.registry) registerDependencyGauge(registry, { engine, requester });
  const metrics = createPresenceMetrics(registry);
  const { presence: store, moderation } = engine;
  const mod = createModerationHandlers({ channels: config.CHANNELS, store, moderation, topics: engine.topics });
  const handlerDeps = {
    channels: config.CHANNELS, largeChannel: config.LARGE_CHANNEL_MEMBERS, store, announce: new Announcer(engine, metrics), metrics,
    moderation, nickBanned: mod.nickBanned,
  };
  const subj = subjects(config.INSTANCE_ID);
  let serving = false;
  const grace = graceReadiness({ engine, requester }, config.READINESS_GRACE_MS);
  closers.defer('readiness', grace.stop);
  const readiness = () => grace.readiness({ 'not serving': serving });
  // A Redis outage fails every request: logged when it starts and when it ends, not once per request.
  const outage = new OutageLog(log, 'presence store (redis)');

  async function start(): Promise<void> {
    const h = createHandlers(handlerDeps);
    const table = [
      [subj.presenceJoin, h.join],
      [subj.presenceRegister, h.register],
      [subj.presenceLeave, h.leave],
      [subj.presenceUsers, h.users],
      [subj.presenceCounts, h.counts],
      [subj.presenceHeartbeat, h.heartbeat],
      [subj.presenceSync, h.sync],
      [subj.presenceEdgeDown, h.edgeDown],
      [subj.presenceHolder, mod.holder],
      [subj.presenceConns, mod.conns],
      [subj.presenceBan, mod.ban],
      [subj.presenceUnban, mod.unban],
      [subj.presenceBans, mod.bans],
      [subj.presenceKick, mod.kick],
    ] as const;
    for (const [subject, handler] of table) {
      const counted = async (req: never) => {
        const op = subject.split('.').pop()!;
        try {
          const out = await (handler as (r: never) => Promise<unknown>)(req);
          metrics.operations.inc({ op, outcome: 'ok' });
          outage.succeeded();
          return out;
        } catch (err) {
          // Redis away is an outage (`unavailable`, retryable, the edge says "try again"), not a handler bug.
          if (!(err instanceof QChatError) && (isConnectionError(err) || !engine.ready())) {
            outage.failed(err, { op });
            metrics.operations.inc({ op, outcome: 'unavailable' });
            throw new QChatError('unavailable', 'presence store unavailable', { cause: err });
          }
          metrics.operations.inc({ op, outcome: (err as { code?: string }).code ?? 'internal' });
          throw err;
        }
      };
      closers.defer(subject, await serveRpc(requester, subject, QUEUE.presence, counted, log));
    }
    const hearing = () => engine.ready() && requester.ready();
    closers.defer('reaper', startReaper({ ...handlerDeps, log, intervalMs: config.REAP_INTERVAL_MS, edgeTtlMs: config.EDGE_TTL_MS, hearing }));
    serving = true;
    closers.defer('serving', () => { serving = false; });
    if (deps.opsServer !== false) {
      closers.add('ops server', await startOpsServer({ port: config.METRICS_PORT, host: config.METRICS_HOST, registry, readiness }), closeServer);
    }
    log.info({
      channels: config.CHANNELS,
      store: engine.mode,
      metrics: deps.opsServer !== false ? `http://${config.METRICS_HOST}:${config.METRICS_PORT}/metrics` : undefined,
    }, 'presence started');
  }

  return { start, stop: once(() => closers.closeAll()), readiness, registry, store };
}

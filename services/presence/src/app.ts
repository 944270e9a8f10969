import { QChatError, QUEUE, keys, subjects } from '@qchat/protocol';
import { serveRpc, type Bus } from '@qchat/bus';
import { Closers, OutageLog, registerDependencyGauge, graceReadiness, closeServer, createRegistry, isConnectionError, once, startOpsServer, type Registry } from '@qchat/runtime';
import type { Logger } from 'pino';
import { Announcer } from './announcer';
import type { PresenceConfig } from './config';
import { createHandlers } from './handlers';
import { createModerationHandlers } from './handlers/moderation';
import { createPresenceMetrics } from './metrics';
import { startReaper } from './reaper';
import { MemoryModerationStore, MemoryPresenceStore, RedisModerationStore, RedisPresenceStore, type PresenceStore } from './store';

export interface PresenceDeps {
  config: PresenceConfig;
  log: Logger;
  bus: Bus;
  registry?: Registry;
  opsServer?: boolean;
}

export function createPresence(deps: PresenceDeps) {
  const { config, log, bus } = deps;
  const closers = new Closers(log);
  const registry = deps.registry ?? createRegistry('presence');
  if (!deps.registry) registerDependencyGauge(registry, bus);
  const metrics = createPresenceMetrics(registry);
  const store: PresenceStore = bus.redis
    ? new RedisPresenceStore(bus.redis, { instance: config.INSTANCE_ID, edgeTtlMs: config.EDGE_TTL_MS })
    : new MemoryPresenceStore({ edgeTtlMs: config.EDGE_TTL_MS });
  const moderation = bus.redis ? new RedisModerationStore(bus.redis, config.INSTANCE_ID) : new MemoryModerationStore();
  const mod = createModerationHandlers({ channels: config.CHANNELS, store, moderation, broker: bus.broker, controlTopic: keys(config.INSTANCE_ID).control });
  const handlerDeps = {
    channels: config.CHANNELS, largeChannel: config.LARGE_CHANNEL_MEMBERS, store, announce: new Announcer(bus.broker, keys(config.INSTANCE_ID), metrics, bus.redis), metrics,
    moderation, nickBanned: mod.nickBanned,
  };
  const subj = subjects(config.INSTANCE_ID);
  let serving = false;
  const grace = graceReadiness(bus, config.READINESS_GRACE_MS);
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
          if (!(err instanceof QChatError) && (isConnectionError(err) || !bus.broker.ready())) {
            outage.failed(err, { op });
            metrics.operations.inc({ op, outcome: 'unavailable' });
            throw new QChatError('unavailable', 'presence store unavailable', { cause: err });
          }
          metrics.operations.inc({ op, outcome: (err as { code?: string }).code ?? 'internal' });
          throw err;
        }
      };
      closers.defer(subject, await serveRpc(bus.requester, subject, QUEUE.presence, counted, log));
    }
    const hearing = () => bus.broker.ready() && bus.requester.ready();
    closers.defer('reaper', startReaper({ ...handlerDeps, log, intervalMs: config.REAP_INTERVAL_MS, edgeTtlMs: config.EDGE_TTL_MS, hearing }));
    serving = true;
    closers.defer('serving', () => { serving = false; });
    if (deps.opsServer !== false) {
      closers.add('ops server', await startOpsServer({ port: config.METRICS_PORT, host: config.METRICS_HOST, registry, readiness }), closeServer);
    }
    log.info({
      channels: config.CHANNELS,
      store: bus.redis ? 'redis' : 'memory',
      metrics: deps.opsServer !== false ? `http://${config.METRICS_HOST}:${config.METRICS_PORT}/metrics` : undefined,
    }, 'presence started');
  }

  return { start, stop: once(() => closers.closeAll()), readiness, registry, store };
}

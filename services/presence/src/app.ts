import { serveOperations, type Requester } from '@qchat/bus';
import type { Engine } from '@qchat/engine';
import { Closers, registerDependencyGauge, graceReadiness, closeServer, createRegistry, isConnectionError, once, startOpsServer, type Registry } from '@qchat/runtime';
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
  let serving = false;
  const grace = graceReadiness({ engine, requester }, config.READINESS_GRACE_MS);
  closers.defer('readiness', grace.stop);
  const readiness = () => grace.readiness({ 'not serving': serving });

  async function start(): Promise<void> {
    const h = createHandlers(handlerDeps);
    // Redis away is an outage (`unavailable`, retryable, the edge says "try again"), not a handler bug; it is
    // logged when it starts and when it ends, not once per request.
    closers.defer('presence operations', await serveOperations(requester, config.INSTANCE_ID, 'presence', {
      'presence.join': h.join,
      'presence.register': h.register,
      'presence.leave': h.leave,
      'presence.users': h.users,
      'presence.counts': h.counts,
      'presence.heartbeat': h.heartbeat,
      'presence.sync': h.sync,
      'presence.edge_down': h.edgeDown,
      'presence.holder': mod.holder,
      'presence.conns': mod.conns,
      'presence.ban': mod.ban,
      'presence.unban': mod.unban,
      'presence.bans': mod.bans,
      'presence.kick': mod.kick,
    }, { log, registry, dependency: 'presence store (redis)', unavailable: (err) => isConnectionError(err) || !engine.ready() }));
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

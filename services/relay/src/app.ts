import { serveOperations, type Requester } from '@qchat/bus';
import type { Engine } from '@qchat/engine';
import { Closers, registerDependencyGauge, graceReadiness, closeServer, createRegistry, once, startOpsServer, type Registry } from '@qchat/runtime';
import type { Logger } from 'pino';
import type { RelayConfig } from './config';
import { createRelayMetrics } from './metrics';
import { createPublishHandler } from './handlers/publish';
import { createHistoryHandler } from './handlers/history';
import { ImageQueue } from './image-queue';
import { configureImageDecoder } from './image';
import { createModerationHandlers } from './handlers/moderation';

export interface RelayDeps {
  config: RelayConfig;
  log: Logger;
  /** Shared state and broadcast (history), and the requests relay answers. */
  engine: Engine;
  requester: Requester;
  /** Shared registry in the all-in-one process; otherwise the relay makes its own. */
  registry?: Registry;
  /** Serve /healthz, /readyz and /metrics on METRICS_PORT (off in the all-in-one process, where the edge serves them). */
  opsServer?: boolean;
}

export function createRelay(deps: RelayDeps) {
  const { config, log, engine, requester } = deps;
  const closers = new Closers(log);
  const registry = deps.registry ?? createRegistry('relay');
  if (!deps.registry) registerDependencyGauge(registry, { engine, requester });
  const metrics = createRelayMetrics(registry);
  const store = engine.history;
  let serving = false;
  const grace = graceReadiness({ engine, requester }, config.READINESS_GRACE_MS);
  closers.defer('readiness', grace.stop);
  const readiness = () => grace.readiness({ 'not serving': serving });
  async function start(): Promise<void> {
    configureImageDecoder();
    const images = new ImageQueue(config.IMAGE_CONCURRENCY, config.IMAGE_QUEUE_LENGTH);
    const publish = createPublishHandler({ config, store, metrics, log, images, decodeLimits: config.decodeLimits });
    const moderation = createModerationHandlers({ channels: config.CHANNELS, store });
    // Store or publish failures during a Redis outage (handlers throw `unavailable` with the cause): logged when it
    // starts and when it ends, not per message.
    closers.defer('relay operations', await serveOperations(requester, config.INSTANCE_ID, 'relay', {
      'relay.publish': publish,
      'relay.history': createHistoryHandler({ channels: config.CHANNELS, store }),
      'relay.delete': moderation.remove,
      'relay.clear': moderation.clear,
    }, { log, registry, dependency: 'relay store (redis)' }));
    serving = true;
    closers.defer('serving', () => { serving = false; });
    if (deps.opsServer !== false) {
      const server = await startOpsServer({ port: config.METRICS_PORT, host: config.METRICS_HOST, registry, readiness });
      closers.add('ops server', server, closeServer);
    }
    log.info({ channels: config.CHANNELS, metrics: deps.opsServer !== false ? `http://${config.METRICS_HOST}:${config.METRICS_PORT}/metrics` : undefined }, 'relay started');
  }

  return { start, stop: once(() => closers.closeAll()), readiness, registry };
}

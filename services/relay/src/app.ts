import { QChatError, QUEUE, subjects } from '@qchat/protocol';
import { serveRpc, type Requester } from '@qchat/bus';
import type { Engine } from '@qchat/engine';
import { Closers, OutageLog, registerDependencyGauge, graceReadiness, closeServer, createRegistry, once, startOpsServer, type Registry } from '@qchat/runtime';
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
  const subj = subjects(config.INSTANCE_ID);
  let serving = false;
  const grace = graceReadiness({ engine, requester }, config.READINESS_GRACE_MS);
  closers.defer('readiness', grace.stop);
  const readiness = () => grace.readiness({ 'not serving': serving });
  // Store or publish failures during a Redis outage: logged when it starts and when it ends, not per message.
  const outage = new OutageLog(log, 'relay store (redis)');
  const watched = <Req, Res>(handler: (req: Req) => Promise<Res>) => async (req: Req): Promise<Res> => {
    try {
      const out = await handler(req);
      outage.succeeded();
      return out;
    } catch (err) {
      if (err instanceof QChatError && err.code === 'unavailable' && err.cause !== undefined) outage.failed(err.cause);
      throw err;
    }
  };

  async function start(): Promise<void> {
    configureImageDecoder();
    const images = new ImageQueue(config.IMAGE_CONCURRENCY, config.IMAGE_QUEUE_LENGTH);
    const publish = watched(createPublishHandler({ config, store, metrics, log, images, decodeLimits: config.decodeLimits }));
    const history = watched(createHistoryHandler({ channels: config.CHANNELS, store }));
    closers.defer('relay.publish', await serveRpc(requester, subj.relayPublish, QUEUE.relay, publish, log));
    closers.defer('relay.history', await serveRpc(requester, subj.relayHistory, QUEUE.relay, history, log));
    const moderation = createModerationHandlers({ channels: config.CHANNELS, store });
    closers.defer('relay.delete', await serveRpc(requester, subj.relayDelete, QUEUE.relay, moderation.remove, log));
    closers.defer('relay.clear', await serveRpc(requester, subj.relayClear, QUEUE.relay, moderation.clear, log));
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

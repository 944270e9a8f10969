import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QChatError, keys, subjects, type TextBody } from '@qchat/protocol';
import { RpcClient, type Bus } from '@qchat/bus';
import { Closers, registerDependencyGauge, VERSION, busReadiness, createRegistry, once, type Registry } from '@qchat/runtime';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import { createBackend } from './backend';
import type { EdgeConfig } from './config';
import { startHeartbeat } from './heartbeat';
import { createHttpApp } from './http/app';
import { MatrixEndpoint } from './matrix/endpoint';
import { createEdgeMetrics } from './metrics';
import { Gateway } from './ws/gateway';
import { Hub } from './ws/hub';

export interface EdgeDeps {
  config: EdgeConfig;
  log: Logger;
  bus: Bus;
  registry?: Registry;
}

export function createEdge(deps: EdgeDeps) {
  const { config, log, bus } = deps;
  const closers = new Closers(log);
  const registry = deps.registry ?? createRegistry('edge');
  if (!deps.registry) registerDependencyGauge(registry, bus);
  const metrics = createEdgeMetrics(registry);
  const rpc = new RpcClient(bus.requester, { timeoutMs: config.REQUEST_TIMEOUT_MS, retries: 1, observer: metrics.observer });
  const backend = createBackend(rpc, subjects(config.INSTANCE_ID), config.EDGE_ID);
  const topic = keys(config.INSTANCE_ID).topic;
  const hub = new Hub({ broker: bus.broker, topic, maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES, nbUsersIntervalMs: config.NB_USERS_INTERVAL_MS, metrics, log });
  const matrix = config.MATRIX_CHAT_ENABLED ? new MatrixEndpoint({ config, requester: bus.requester, registry, log: log.child({ component: 'matrix' }) }) : undefined;
  const gateway = new Gateway({ config, hub, backend, metrics, log, otherUpgrades: matrix && ((req, socket, head) => matrix.upgrade(req, socket, head)) });
  let closing = false;
  let server: Server | undefined;

  const readiness = () => busReadiness(bus, { 'shutting down': !closing });

  const app = createHttpApp({
    config,
    log,
    registry,
    version: VERSION,
    readiness,
    extraEndpoints: matrix?.endpoints(),
    extraOpenApiPaths: matrix?.openApiPaths(),
    presence: {
      users: async (channel) => (await backend.users(channel)).users,
      counts: async (channels) => (await backend.counts(channels)).counts,
    },
    relay: {
      history: async (channel) => (await backend.history(channel)).frames,
      publishText: async (channel: string, body: TextBody) => (await backend.publish(channel, randomUUID(), body, 'http')).frame,
    },
  });

  async function start(): Promise<void> {
    await matrix?.start();
    server = createServer(app);
    server.keepAliveTimeout = 65_000;
    gateway.attach(server);
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(config.PORT, config.HOST, () => { server!.off('error', reject); resolve(); });
    });
    // In-flight HTTP requests may finish; idle keep-alive connections go at once, the rest after a grace period.
    closers.defer('http server', () => new Promise<void>((resolve) => {
      server!.close(() => resolve());
      server!.closeIdleConnections();
      setTimeout(() => server!.closeAllConnections(), Math.min(2_000, config.SHUTDOWN_TIMEOUT_MS / 4)).unref();
    }));
    closers.defer('heartbeat', startHeartbeat({ backend, hub, log, intervalMs: config.EDGE_HEARTBEAT_MS }));
    log.info({ port: port(), edge: config.EDGE_ID, channels: config.CHANNELS }, 'edge listening');
  }

  /** Drain: refuse upgrades and answer /readyz 503, close sockets with 1001, then tell presence they are gone. */
  async function drain(): Promise<void> {
    closing = true;
    const sockets = hub.count();
    await Promise.all([gateway.drain(Math.max(500, config.SHUTDOWN_TIMEOUT_MS / 2)), matrix?.drain(Math.max(500, config.SHUTDOWN_TIMEOUT_MS / 4))]);
    await backend.edgeDown().catch((err: unknown) => {
      log.warn({ err, code: err instanceof QChatError ? err.code : 'internal' }, 'presence not told of the drain; it reclaims this edge after EDGE_TTL_MS');
    });
    log.info({ sockets }, 'edge drained');
  }

  function port(): number {
    return (server?.address() as AddressInfo | null)?.port ?? config.PORT;
  }

  const stop = once(async () => {
    await drain();
    await closers.closeAll();
  });

  return { start, stop, readiness, registry, port, hub };
}

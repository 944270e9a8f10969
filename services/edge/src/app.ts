import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QChatError, type TextBody } from '@qchat/protocol';
import { RpcClient, type Requester } from '@qchat/bus';
import type { Engine } from '@qchat/engine';
import { Closers, OutageLog, PROTOCOL_VERSION, closeServer, createRegistry, graceReadiness, once, registerDependencyGauge, startOpsServer, type OpsRoute, type Registry } from '@qchat/runtime';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import { createBackend } from './backend';
import type { EdgeConfig } from './config';
import { startHeartbeat } from './heartbeat';
import { createHttpApp } from './http/app';
import { addressResolver } from './client-address';
import { MatrixEndpoint } from './matrix/endpoint';
import { createEdgeMetrics } from './metrics';
import { BanList, startModeration } from './moderation';
import { soundHistory, soundStoredFrame } from './ws/broker-frames';
import { Gateway } from './ws/gateway';
import { Hub } from './ws/hub';

export interface EdgeDeps {
  config: EdgeConfig;
  log: Logger;
  /** Channel topics (the edge only reads them), and requests to presence and relay. */
  engine: Engine;
  requester: Requester;
  registry?: Registry;
  /** Extra routes on the ops port (METRICS_PORT), beside /healthz, /readyz and /metrics. */
  opsRoutes?: OpsRoute[];
}

/** A URL to show people: an unset or wildcard host is shown as localhost. */
function displayUrl(host: string | undefined, port: number, path: string): string {
  const h = host === undefined || host === '' || host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}${path}`;
}

export function createEdge(deps: EdgeDeps) {
  const { config, log, engine, requester } = deps;
  const closers = new Closers(log);
  const registry = deps.registry ?? createRegistry('edge');
  if (!deps.registry) registerDependencyGauge(registry, { engine, requester });
  const metrics = createEdgeMetrics(registry, { channels: config.CHANNELS });
  const timeouts = { requestMs: config.REQUEST_TIMEOUT_MS, imageMs: config.IMAGE_TIMEOUT_MS };
  // Calls failing because relay or presence cannot answer are logged once per outage, not once per message.
  const rpc = new RpcClient(requester, { instance: config.INSTANCE_ID, timeouts, registry, outage: new OutageLog(log, 'presence or relay') });
  const backend = createBackend(rpc, config.EDGE_ID);
  const hub = new Hub({ topics: engine.topics, maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES, stallTimeoutMs: config.WS_STALL_TIMEOUT_MS, maxUnsentBytes: config.WS_MAX_UNSENT_BYTES, nbUsersIntervalMs: config.NB_USERS_INTERVAL_MS, metrics, log });
  const bans = new BanList(async () => (await backend.bans()).bans, log);
  const matrix = config.MATRIX_CHAT_ENABLED ? new MatrixEndpoint({ config, requester, registry, log: log.child({ component: 'matrix' }) }) : undefined;
  const gateway = new Gateway({ config, hub, backend, metrics, log, bans, otherUpgrades: matrix && ((req, socket, head) => matrix.upgrade(req, socket, head)) });
  let adminPort: number | undefined;
  let closing = false;
  let server: Server | undefined;
  let ops: Server | undefined;

  const grace = graceReadiness({ engine, requester }, config.READINESS_GRACE_MS);
  closers.defer('readiness', grace.stop);
  const readiness = () => grace.readiness({ 'shutting down': !closing });

  const app = createHttpApp({
    config,
    log,
    http: metrics.http,
    version: PROTOCOL_VERSION,
    readiness,
    extraEndpoints: matrix?.endpoints(),
    extraOpenApiPaths: matrix?.openApiPaths(),
    presence: {
      users: async (channel) => (await backend.users(channel)).users,
      counts: async (channels) => (await backend.counts(channels)).counts,
      holder: (channel, nick) => backend.holder(channel, nick),
    },
    clientAddress: addressResolver(config),
    onRateLimited: () => metrics.httpRateLimited.inc(),
    relay: {
      history: async (channel) => soundHistory((await backend.history(channel)).frames, () => metrics.brokerDropped.inc({ reason: 'history' })),
      publishText: async (channel: string, body: TextBody) => {
        const { frame } = await backend.publish(channel, randomUUID(), body, 'http');
        // A reply from NATS is untrusted input like a broker message: only a stored-message frame is passed on.
        if (frame === null || !soundStoredFrame(frame)) throw new QChatError('internal', 'relay answered with a malformed frame');
        return frame;
      },
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
    ops = closers.add('ops server', await startOpsServer({
      port: config.METRICS_PORT,
      host: config.METRICS_HOST,
      registry,
      readiness,
      routes: deps.opsRoutes,
      onError: (err, req) => log.error({ err, method: req.method, path: req.url }, 'ops request failed'),
    }), closeServer);
    adminPort = await startModeration({ config, topics: engine.topics, backend, hub, bans, metrics, log, closers });
    log.info({
      page: displayUrl(config.HOST, port(), '/'),
      docs: displayUrl(config.HOST, port(), '/docs'),
      metrics: displayUrl(config.METRICS_HOST, opsPort(), '/metrics'),
      channels: config.CHANNELS,
      engine: engine.mode,
      requests: requester.mode,
    }, `edge listening: open ${displayUrl(config.HOST, port(), '/')} (API docs at /docs), metrics on ${displayUrl(config.METRICS_HOST, opsPort(), '/metrics')}`);
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

  /** The ops server's port (METRICS_PORT, or the one picked when it is 0). */
  function opsPort(): number {
    return (ops?.address() as AddressInfo | null)?.port ?? config.METRICS_PORT;
  }

  const stop = once(async () => {
    await drain();
    await closers.closeAll();
  });

  return { start, stop, readiness, registry, port, opsPort, hub, adminPort: () => adminPort, server: () => server };
}

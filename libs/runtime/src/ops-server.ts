/**
 * The ops server of every service: /healthz, /readyz and /metrics on METRICS_PORT, bound to METRICS_HOST, off the
 * public path. Extra routes (an admin API, for instance) mount with `routes`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready: boolean;
  /** Why the service is not ready. */
  reasons: string[];
  /** Dependencies away for less than READINESS_GRACE_MS: still ready, but say so. */
  degraded?: string[];
}

export interface OpsRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Exact path, or a prefix ending in `/*`. */
  path: string;
  handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
}

export interface OpsServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  readiness: () => Readiness;
  routes?: OpsRoute[];
  /** Called with an error a route handler threw (the client gets a JSON 500). */
  onError?: (err: unknown, req: IncomingMessage) => void;
}

export function sendJsonBody(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Body of /readyz, the same on every service. */
export function readinessBody(r: Readiness): { status: number; body: Record<string, unknown> } {
  const degraded = r.degraded && r.degraded.length > 0 ? { degraded: r.degraded } : {};
  return r.ready ? { status: 200, body: { status: 'ready', ...degraded } } : { status: 503, body: { status: 'not ready', reasons: r.reasons } };
}

function matches(route: OpsRoute, path: string): boolean {
  return route.path.endsWith('/*') ? path.startsWith(route.path.slice(0, -1)) : path === route.path;
}

export function opsRequestHandler(opts: Omit<OpsServerOptions, 'port' | 'host'>): (req: IncomingMessage, res: ServerResponse) => void {
  const builtIn: OpsRoute[] = [
    { method: 'GET', path: '/healthz', handle: (_req, res) => sendJsonBody(res, 200, { status: 'ok' }) },
    { method: 'GET', path: '/readyz', handle: (_req, res) => { const r = readinessBody(opts.readiness()); sendJsonBody(res, r.status, r.body); } },
    {
      method: 'GET',
      path: '/metrics',
      handle: async (_req, res) => {
        const text = await opts.registry.metrics();
        res.writeHead(200, { 'Content-Type': opts.registry.contentType, 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      },
    },
  ];
  const routes = [...builtIn, ...(opts.routes ?? [])];
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const onPath = routes.filter((r) => matches(r, path));
    if (onPath.length === 0) return sendJsonBody(res, 404, { detail: 'Not Found' });
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const route = onPath.find((r) => r.method === method);
    if (!route) {
      const allow = [...new Set(onPath.flatMap((r) => (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method])))].join(', ');
      res.setHeader('Allow', allow);
      return sendJsonBody(res, 405, { detail: 'Method Not Allowed' });
    }
    Promise.resolve()
      .then(() => route.handle(req, res))
      .catch((err: unknown) => {
        opts.onError?.(err, req);
        if (res.headersSent) res.destroy();
        else sendJsonBody(res, 500, { detail: 'Internal Server Error' });
      });
  };
}

export async function startOpsServer(opts: OpsServerOptions): Promise<Server> {
  const server = createServer(opsRequestHandler(opts));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  return server;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

interface ReadyDeps { engine: { ready(): boolean }; requester: { ready(): boolean } }

/** Readiness of the engine and the requester, with one reason per missing dependency (no grace). */
export function busReadiness(deps: ReadyDeps, extra: Record<string, boolean> = {}): Readiness {
  const reasons: string[] = [];
  if (!deps.engine.ready()) reasons.push('redis not connected');
  if (!deps.requester.ready()) reasons.push('nats not connected');
  for (const [reason, ok] of Object.entries(extra)) if (!ok) reasons.push(reason);
  return { ready: reasons.length === 0, reasons };
}

/**
 * Readiness with a grace period: a dependency away for less than `graceMs` leaves the service ready (reported as
 * `degraded`), so one Redis blip does not take every replica out of the load balancer at once; beyond it the
 * service reports not ready. Connection state is sampled every 100 ms, so an outage is timed from its start
 * whether or not anyone asks. `extra` conditions (serving, shutting down) apply at once, without grace.
 */
export function graceReadiness(backends: ReadyDeps, graceMs: number): { readiness(extra?: Record<string, boolean>): Readiness; stop(): void } {
  const deps = [
    { reason: 'redis not connected', up: () => backends.engine.ready(), downSince: 0 },
    { reason: 'nats not connected', up: () => backends.requester.ready(), downSince: 0 },
  ];
  const sample = () => {
    const now = Date.now();
    for (const d of deps) {
      if (d.up()) d.downSince = 0;
      else if (d.downSince === 0) d.downSince = now;
    }
  };
  const timer = setInterval(sample, 100);
  timer.unref();
  return {
    readiness(extra = {}) {
      sample();
      const now = Date.now();
      const reasons: string[] = [];
      const degraded: string[] = [];
      for (const d of deps) {
        if (d.downSince === 0) continue;
        if (now - d.downSince >= graceMs) reasons.push(d.reason);
        else degraded.push(d.reason);
      }
      for (const [reason, ok] of Object.entries(extra)) if (!ok) reasons.push(reason);
      return { ready: reasons.length === 0, reasons, ...(degraded.length > 0 ? { degraded } : {}) };
    },
    stop: () => clearInterval(timer),
  };
}

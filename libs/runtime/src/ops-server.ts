/** The small HTTP server of presence and relay: /healthz, /readyz and /metrics on METRICS_PORT. */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface Readiness { ready: boolean; reasons: string[] }

export async function startOpsServer(opts: { port: number; host?: string; registry: Registry; readiness: () => Readiness }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return json(405, { detail: 'Method Not Allowed' });
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') {
      const r = opts.readiness();
      return r.ready ? json(200, { status: 'ready' }) : json(503, { status: 'not ready', reasons: r.reasons });
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => { res.writeHead(200, { 'Content-Type': opts.registry.contentType }); res.end(text); },
        () => json(500, { detail: 'metrics unavailable' }),
      );
      return;
    }
    json(404, { detail: 'Not Found' });
  });
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

/** Readiness of the bus adapters, with one reason per missing dependency. */
export function busReadiness(bus: { broker: { ready(): boolean }; requester: { ready(): boolean } }, extra: Record<string, boolean> = {}): Readiness {
  const reasons: string[] = [];
  if (!bus.broker.ready()) reasons.push('redis not connected');
  if (!bus.requester.ready()) reasons.push('nats not connected');
  for (const [reason, ok] of Object.entries(extra)) if (!ok) reasons.push(reason);
  return { ready: reasons.length === 0, reasons };
}

/** Operator endpoints: liveness, readiness (protocol.md §6 D20: /status keeps its constant shape), metrics. */
import type { RequestHandler } from 'express';
import type { HttpDeps } from './deps';
import { sendJson } from './json';
import type { Endpoint } from './routes';

export function opsEndpoints(deps: HttpDeps): Endpoint[] {
  const readyz: RequestHandler = (_req, res) => {
    const { ready, reasons } = deps.readiness();
    if (ready) sendJson(res, 200, { status: 'ready' });
    else sendJson(res, 503, { status: 'not ready', reasons });
  };

  const metrics: RequestHandler = async (_req, res) => {
    const text = await deps.registry.metrics();
    res.status(200);
    res.setHeader('Content-Type', deps.registry.contentType);
    res.setHeader('Content-Length', Buffer.byteLength(text, 'utf8'));
    res.end(text);
  };

  return [
    { path: '/healthz', handlers: { get: (_req, res) => sendJson(res, 200, { status: 'ok' }) } },
    { path: '/readyz', handlers: { get: readyz } },
    { path: '/metrics', handlers: { get: metrics } },
  ];
}

/**
 * Liveness and readiness on the public port too (load balancers and proxies probe them there; protocol.md §6
 * D20: /status keeps its constant shape). /metrics is only on the ops port (METRICS_PORT).
 */
import type { RequestHandler } from 'express';
import { readinessBody } from '@qchat/runtime';
import type { HttpDeps } from './deps';
import { sendJson } from './json';
import type { Endpoint } from './routes';

export function opsEndpoints(deps: HttpDeps): Endpoint[] {
  const readyz: RequestHandler = (_req, res) => {
    const r = readinessBody(deps.readiness());
    sendJson(res, r.status, r.body);
  };

  return [
    { path: '/healthz', handlers: { get: (_req, res) => sendJson(res, 200, { status: 'ok' }) } },
    { path: '/readyz', handlers: { get: readyz } },
  ];
}

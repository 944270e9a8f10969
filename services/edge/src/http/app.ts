import express from 'express';
import { apiEndpoints } from './api';
import type { HttpDeps } from './deps';
import { docsEndpoints } from './docs';
import { errorHandling, notFound } from './errors';
import { opsEndpoints } from './ops';
import { pageEndpoints } from './pages';
import { allowHeader, mountEndpoints, trailingSlashRedirect, type Endpoint } from './routes';
import { securityHeaders } from './security-headers';

export type { HttpDeps } from './deps';

/**
 * Counts and times every request by route pattern (never the raw path: channel names stay a closed set) and
 * logs it at debug.
 */
function observeRequests(deps: HttpDeps, endpoints: Endpoint[]): express.RequestHandler {
  deps.http?.routes([
    ...endpoints.map((e) => ({ path: e.path, methods: allowHeader(e).split(', ') })),
    { path: 'unmatched', methods: ['GET'] },
  ]);
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (req.route as { path?: unknown } | undefined)?.path;
      const pattern = typeof route === 'string' ? route : 'unmatched';
      deps.http?.request(pattern, req.method, res.statusCode, seconds);
      deps.log.debug({ method: req.method, route: pattern, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 }, 'http request');
    });
    next();
  };
}

/**
 * The edge's HTTP app (protocol.md §2). Unknown paths → 404, other methods on a known path → 405 + Allow,
 * a known path plus trailing slash → 307, backends away → 503, uncaught errors → 500; every error answer is
 * `{"detail": …}` JSON. The WebSocket upgrade is handled beside it, on the same node:http server. /metrics is not
 * here: it is on the ops port (METRICS_PORT).
 */
export function createHttpApp(deps: HttpDeps): express.Express {
  const app = express();
  // Settings first: express creates its router lazily from them.
  app.set('strict routing', true);
  app.set('case sensitive routing', true);
  app.set('etag', false);
  app.set('x-powered-by', false);

  app.use(securityHeaders());
  const endpoints = [...pageEndpoints(deps), ...apiEndpoints(deps), ...docsEndpoints(deps), ...opsEndpoints(deps), ...(deps.extraEndpoints ?? [])];
  const errors = errorHandling(deps.log);
  app.use(observeRequests(deps, endpoints));
  app.use(errors.track);
  mountEndpoints(app, endpoints);
  app.use(trailingSlashRedirect(endpoints));
  app.use(notFound);
  app.use(errors.handler);
  return app;
}

import express from 'express';
import { apiEndpoints } from './api';
import type { HttpDeps } from './deps';
import { docsEndpoints } from './docs';
import { errorHandler, notFound } from './errors';
import { opsEndpoints } from './ops';
import { pageEndpoints } from './pages';
import { mountEndpoints, trailingSlashRedirect } from './routes';

export type { HttpDeps } from './deps';

/**
 * The edge's HTTP app (protocol.md §2). Unknown paths → 404, other methods on a known path → 405 + Allow,
 * a known path plus trailing slash → 307, uncaught errors → 500 text/plain. The WebSocket upgrade is
 * handled beside it, on the same node:http server.
 */
export function createHttpApp(deps: HttpDeps): express.Express {
  const app = express();
  // Settings first: express creates its router lazily from them.
  app.set('strict routing', true);
  app.set('case sensitive routing', true);
  app.set('etag', false);
  app.set('x-powered-by', false);

  const endpoints = [...pageEndpoints(deps), ...apiEndpoints(deps), ...docsEndpoints(deps), ...opsEndpoints(deps), ...(deps.extraEndpoints ?? [])];
  mountEndpoints(app, endpoints);
  app.use(trailingSlashRedirect(endpoints));
  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}

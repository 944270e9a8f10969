/** A minimal HTTP server for the moderation API, on its own port (ADMIN_PORT), never on the public one. */
import { createServer, type Server } from 'node:http';
import express from 'express';
import { securityHeaders } from '../http/security-headers';
import { createAdminRouter, type AdminDeps } from './admin-api';

export async function startAdminServer(opts: AdminDeps & { port: number; host: string }): Promise<Server> {
  const app = express();
  app.set('x-powered-by', false);
  app.set('etag', false);
  app.use(securityHeaders());
  app.use(createAdminRouter(opts));
  app.use((_req, res) => {
    res.status(404).setHeader('Content-Type', 'application/json');
    res.end('{"detail":"Not Found"}');
  });
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  return server;
}

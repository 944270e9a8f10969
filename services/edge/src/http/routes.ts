import type { Express, Request, RequestHandler, Response, NextFunction } from 'express';
import { sendDetail } from './json';

export type Method = 'get' | 'put' | 'post';

/** One path and its handlers; every other method on the path answers 405 with `Allow`. */
export interface Endpoint {
  /** express path, `:name` for one segment. */
  path: string;
  handlers: Partial<Record<Method, RequestHandler>>;
}

/** `Allow` value of an endpoint; express answers HEAD with the GET handler, so HEAD is listed too. */
export function allowHeader(endpoint: Endpoint): string {
  const methods: string[] = [];
  for (const m of Object.keys(endpoint.handlers) as Method[]) {
    methods.push(m.toUpperCase());
    if (m === 'get') methods.push('HEAD');
  }
  return methods.join(', ');
}

/** A `:name` path parameter, percent-decoded by the router. */
export function pathParam(req: Request, name: string): string {
  const value: unknown = req.params[name];
  return typeof value === 'string' ? value : '';
}

function methodNotAllowed(allow: string): RequestHandler {
  return (_req, res) => {
    res.setHeader('Allow', allow);
    sendDetail(res, 405, 'Method Not Allowed');
  };
}

export function mountEndpoints(app: Express, endpoints: Endpoint[]): void {
  for (const endpoint of endpoints) {
    const route = app.route(endpoint.path);
    for (const [method, handler] of Object.entries(endpoint.handlers) as [Method, RequestHandler][]) {
      route[method](handler);
    }
    route.all(methodNotAllowed(allowHeader(endpoint)));
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Same matching as the router (strict, case-sensitive, on the raw path), used to decide on redirects. */
function pathMatcher(endpoints: Endpoint[]): (path: string) => boolean {
  const patterns = endpoints.map((e) => {
    const body = e.path.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : escapeRegExp(seg))).join('/');
    return new RegExp(`^${body}$`);
  });
  return (path) => patterns.some((p) => p.test(path));
}

/**
 * Starlette's redirect_slashes: a path ending in `/` that matches no route but would without its trailing
 * slashes → 307 to that path, query kept. Only known paths are redirected, so `//host/` cannot become an
 * open redirect.
 */
export function trailingSlashRedirect(endpoints: Endpoint[]): RequestHandler {
  const known = pathMatcher(endpoints);
  return (req: Request, res: Response, next: NextFunction) => {
    const path = req.path;
    if (path.length <= 1 || !path.endsWith('/')) return next();
    const stripped = path.replace(/\/+$/, '');
    if (stripped === '' || !known(stripped)) return next();
    const q = req.originalUrl.indexOf('?');
    const search = q >= 0 ? req.originalUrl.slice(q) : '';
    res.status(307);
    res.setHeader('Location', stripped + search);
    res.setHeader('Content-Length', 0);
    res.end();
  };
}

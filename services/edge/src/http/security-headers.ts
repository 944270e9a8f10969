/**
 * Security headers. Every answer gets nosniff, no framing and no referrer; its Content-Security-Policy is a
 * closed default (nothing loads, nothing frames) that a page replaces with its own through `setPagePolicy`.
 * No header here changes what the QGIS and QField plugins read (they ignore them).
 */
import { createHash } from 'node:crypto';
import type { RequestHandler, Response } from 'express';

export const DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** A page policy: same-origin everything, the WebSocket to this host, no framing; `extra` adds or replaces directives. */
export function pagePolicy(extra: Record<string, string> = {}): string {
  const directives: Record<string, string> = {
    'default-src': "'self'",
    'script-src': "'self'",
    'style-src': "'self' 'unsafe-inline'",
    'img-src': "'self' data: blob:",
    'connect-src': "'self' ws: wss:",
    'object-src': "'none'",
    'base-uri': "'none'",
    'form-action': "'self'",
    'frame-ancestors': "'none'",
    ...extra,
  };
  return Object.entries(directives).map(([k, v]) => `${k} ${v}`).join('; ');
}

/** The CSP source of an inline script, so a page can allow exactly that script and nothing else inline. */
export function scriptHash(script: string): string {
  return `'sha256-${createHash('sha256').update(script, 'utf8').digest('base64')}'`;
}

export function securityHeaders(): RequestHandler {
  return (_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', DEFAULT_CSP);
    next();
  };
}

/** Replaces the closed default policy for a page. */
export function setPagePolicy(res: Response, csp: string): void {
  res.setHeader('Content-Security-Policy', csp);
}

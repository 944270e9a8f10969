/** Pages for people: the web client at `/` with its bundled assets under `/assets/`, and the QField plugin link. */
import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { RequestHandler } from 'express';
import type { HttpDeps } from './deps';
import { sendDetail, sendHtml } from './json';
import { pageCsp } from './page-policy';
import { pathParam, type Endpoint } from './routes';
import { setPagePolicy } from './security-headers';

/**
 * services/edge/public/index.html, found from this file so the working directory does not matter; in the
 * bundled image (dist/edge.mjs) it sits at services/edge/public beside dist/.
 */
export const INDEX_HTML = [
  new URL('../../public/index.html', import.meta.url),
  new URL('../services/edge/public/index.html', import.meta.url),
].map((u) => fileURLToPath(u)).find((p) => existsSync(p)) ?? fileURLToPath(new URL('../../public/index.html', import.meta.url));

/**
 * The page's bundle (scripts/build-web.mjs writes dist/web/): from the sources that is <repo>/dist/web, from a
 * bundle (dist/edge.mjs) it is dist/web beside it.
 */
export const WEB_ASSETS_DIR = [
  new URL('../../../../dist/web/', import.meta.url),
  new URL('./web/', import.meta.url),
].map((u) => fileURLToPath(u)).find((p) => existsSync(p)) ?? fileURLToPath(new URL('../../../../dist/web/', import.meta.url));

const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*\.(js|css|svg|map|txt|png|woff2)$/;
/** Assets the build also writes gzipped (scripts/build-web.mjs). */
const GZIPPED: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

function isMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function escapeAttribute(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/'/g, '&#39;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function pageEndpoints(deps: HttpDeps): Endpoint[] {
  const tileUrl = deps.config.MAP_TILE_URL ?? '';
  const pageConfig = escapeAttribute(JSON.stringify({ tileUrl, tileAttribution: deps.config.MAP_TILE_ATTRIBUTION ?? '' }));

  // Read per request: the page is small and may be replaced without a restart.
  const index: RequestHandler = async (req, res) => {
    let html: string;
    try {
      html = await readFile(INDEX_HTML, 'utf8');
    } catch (err) {
      if (isMissing(err)) return sendDetail(res, 404, 'Not Found');
      throw err;
    }
    setPagePolicy(res, pageCsp({ tileUrl, host: req.headers.host }));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    sendHtml(res, html.replace('{{QCHAT_CONFIG}}', pageConfig));
  };

  const asset: RequestHandler = (req, res, next) => {
    const file = pathParam(req, 'file');
    if (!ASSET_NAME.test(file)) return sendDetail(res, 404, 'Not Found');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    let name = file;
    const type = GZIPPED[extname(file)];
    if (type) {
      res.setHeader('Vary', 'Accept-Encoding');
      if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && existsSync(join(WEB_ASSETS_DIR, `${file}.gz`))) {
        name = `${file}.gz`;
        res.setHeader('Content-Type', type);
        res.setHeader('Content-Encoding', 'gzip');
      }
    }
    res.sendFile(name, { root: WEB_ASSETS_DIR, cacheControl: false, dotfiles: 'deny' }, (err) => {
      if (!err) return;
      if (isMissing(err) || (err as { status?: number }).status === 404) {
        if (!res.headersSent) sendDetail(res, 404, 'Not Found');
        return;
      }
      next(err);
    });
  };

  // gischat proxies the zip from GitHub; without outbound access a redirect is the allowed substitute (§2.2).
  const qfield: RequestHandler = (_req, res) => {
    res.status(302);
    res.setHeader('Location', deps.config.QFIELD_PLUGIN_URL);
    res.setHeader('Content-Length', 0);
    res.end();
  };

  return [
    { path: '/', handlers: { get: index } },
    { path: '/assets/:file', handlers: { get: asset } },
    { path: '/qfield', handlers: { get: qfield } },
  ];
}

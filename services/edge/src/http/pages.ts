/** Pages for people: the web client at `/` and the QField plugin download link. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { RequestHandler } from 'express';
import type { HttpDeps } from './deps';
import { sendDetail, sendHtml } from './json';
import type { Endpoint } from './routes';
import { pagePolicy, setPagePolicy } from './security-headers';

/**
 * Policy of the web page: its inline script and styles, the WebSocket to this host. The page's owner sets the
 * final one here (tighter: hashes instead of 'unsafe-inline').
 */
export const INDEX_CSP = pagePolicy({ 'script-src': "'self' 'unsafe-inline'" });

/**
 * services/edge/public/index.html, found from this file so the working directory does not matter; in the
 * bundled image (dist/edge.mjs) it sits at services/edge/public beside dist/.
 */
export const INDEX_HTML = [
  new URL('../../public/index.html', import.meta.url),
  new URL('../services/edge/public/index.html', import.meta.url),
].map((u) => fileURLToPath(u)).find((p) => existsSync(p)) ?? fileURLToPath(new URL('../../public/index.html', import.meta.url));

function isMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export function pageEndpoints(deps: HttpDeps): Endpoint[] {
  // Read per request: the page is small and may be replaced without a restart.
  const index: RequestHandler = async (_req, res) => {
    let html: Buffer;
    try {
      html = await readFile(INDEX_HTML);
    } catch (err) {
      if (isMissing(err)) return sendDetail(res, 404, 'Not Found');
      throw err;
    }
    setPagePolicy(res, INDEX_CSP);
    sendHtml(res, html);
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
    { path: '/qfield', handlers: { get: qfield } },
  ];
}

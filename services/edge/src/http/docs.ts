/** API documentation for people: the OpenAPI document, Swagger UI from bundled swagger-ui-dist (no CDN). gischat's /redoc is not
 * served: Swagger UI at /docs is the one human page (ReDoc would add a second large front-end bundle). */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RequestHandler } from 'express';
import type { HttpDeps } from './deps';
import { sendDetail, sendHtml, sendJsonText } from './json';
import { openApiDocument } from './openapi';
import { pathParam, type Endpoint } from './routes';
import { pagePolicy, scriptHash, setPagePolicy } from './security-headers';

const SWAGGER_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** Only the files the page loads; the rest of the package (its demo index, petstore initializer) is not served. */
const ASSETS: ReadonlySet<string> = new Set([
  'swagger-ui.css',
  'swagger-ui-bundle.js',
  'swagger-ui-standalone-preset.js',
  'favicon-16x16.png',
  'favicon-32x32.png',
]);

const SWAGGER_INIT = `
window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  layout: 'BaseLayout',
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
`;

/** Swagger UI's bundle and exactly its inline initializer; it draws with inline styles and data: images. */
const DOCS_CSP = pagePolicy({ 'script-src': `'self' ${scriptHash(SWAGGER_INIT)}`, 'connect-src': "'self'" });

const SWAGGER_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gischat API - Swagger UI</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>${SWAGGER_INIT}</script>
</body>
</html>
`;

export function docsEndpoints(deps: HttpDeps): Endpoint[] {
  const openapi = JSON.stringify(openApiDocument({ version: deps.version, limits: deps.config.limits, extraPaths: deps.extraOpenApiPaths }));

  const asset: RequestHandler = (req, res, next) => {
    const file = pathParam(req, 'file');
    if (!ASSETS.has(file)) return sendDetail(res, 404, 'Not Found');
    res.sendFile(join(SWAGGER_DIR, file), { cacheControl: false }, (err) => {
      if (err) next(err);
    });
  };

  return [
    { path: '/openapi.json', handlers: { get: (_req, res) => sendJsonText(res, 200, openapi) } },
    { path: '/docs', handlers: { get: (_req, res) => { setPagePolicy(res, DOCS_CSP); sendHtml(res, SWAGGER_HTML); } } },
    { path: '/docs/assets/:file', handlers: { get: asset } },
  ];
}

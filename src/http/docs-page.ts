// The API reference page at /docs: Swagger UI from the `swagger-ui-dist` package, served by the
// API itself (no CDN: the service must document itself offline) under a CSP that allows only
// these same-origin assets. Swagger UI was chosen because its bundle is plain static files with
// no runtime dependencies and needs neither inline script nor injected <style> elements, so the
// policy needs no hash, nonce or 'unsafe-inline'; the bootstrap is a file we serve too.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Router } from 'express';
import helmet from 'helmet';
import { z } from 'zod';
import { type ApiDocs, publicRoute } from './openapi.ts';

const swaggerUiDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The only files of the package the page loads (nothing else of it is reachable). */
const packageAssets: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

/** Same-origin only: the document comes from /openapi.json, "Try it out" calls this API;
 * Swagger UI's icons are data: URIs in its stylesheet. */
export const docsContentSecurityPolicy = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>claimtrail API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<noscript>This page needs JavaScript. The OpenAPI document itself: <a href="/openapi.json">/openapi.json</a></noscript>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/docs-init.js"></script>
</body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to an outside validator.
const bootstrap = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

/** Mounted at /docs before the global helmet(), whose default CSP would block the page. */
export function docsRouter(docs: ApiDocs) {
  const router = Router();
  docs.route({
    method: 'get',
    path: '/docs',
    operationId: 'getApiReferencePage',
    summary: 'This API reference as a page (Swagger UI)',
    security: publicRoute,
    responses: { 200: { description: 'the page', content: { 'text/html': { schema: z.string() } } } },
  });
  router.use(
    helmet({ contentSecurityPolicy: { useDefaults: false, directives: docsContentSecurityPolicy } }),
  );
  router.get('/', (_req, res) => {
    res.type('html').send(page);
  });
  router.get('/assets/docs-init.js', (_req, res) => {
    res.type('text/javascript; charset=utf-8').send(bootstrap);
  });
  router.get('/assets/:file', (req, res, next) => {
    const type = packageAssets[req.params.file];
    if (!type) return next();
    res.sendFile(join(swaggerUiDir, req.params.file), {
      headers: { 'Content-Type': type, 'Cache-Control': 'public, max-age=86400' },
    });
  });
  return router;
}

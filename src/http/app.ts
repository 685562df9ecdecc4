// The Express application: cross-cutting middleware, then one router per resource, then
// the problem+json fallbacks. Routers register their OpenAPI paths as they are built.
import express from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { registerTimestampMetrics } from '../anchors/timestamp/timestamp-metrics.ts';
import { registerWitnessMetrics } from '../anchors/witness/witness-stats.ts';
import type { AppContext } from '../context.ts';
import { logSerializers } from '../lib/logger.ts';
import { webApp } from '../web/web.router.ts';
import { registerAuthCacheMetrics } from './auth-cache-metrics.ts';
import { authenticate } from './authenticate.ts';
import { docsRouter } from './docs-page.ts';
import { idempotency } from './idempotency.ts';
import { createMetrics } from './metrics.ts';
import { ApiDocs } from './openapi.ts';
import { errorHandler, notFoundHandler } from './problem.ts';
import {
  jsonBody,
  limitJsonDepth,
  refuseUnstorableText,
  requestIdFor,
  requireJsonBody,
} from './request-context.ts';
import { evidenceRouter } from './routes/evidence.router.ts';
import { exportsRouter } from './routes/exports.router.ts';
import { healthRouter } from './routes/health.router.ts';
import { journalismRouter } from './routes/journalism.router.ts';
import { logRouter } from './routes/log.router.ts';
import { membersRouter } from './routes/members.router.ts';
import { usersRouter } from './routes/users.router.ts';

export function createApp(ctx: AppContext) {
  const app = express();
  const docs = new ApiDocs();
  const metrics = createMetrics(ctx.queues, ctx.pool);
  // Counted by the sequencer process in Redis, read at scrape time (issue 15).
  registerTimestampMetrics(metrics.registry, ctx.redis, ctx.config.REDIS_PREFIX);
  registerWitnessMetrics(metrics.registry, ctx.redis, ctx.config.REDIS_PREFIX);
  registerAuthCacheMetrics(metrics.registry, ctx.authCache);

  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.set('query parser', 'simple');

  app.use(
    pinoHttp({
      logger: ctx.log,
      serializers: logSerializers, // bounded lines, tokens in URLs redacted (lib/logger.ts)
      genReqId: (req, res) => {
        const id = requestIdFor(req);
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      // Probes and scrapes every few seconds would drown the log.
      autoLogging: { ignore: (req) => ['/healthz', '/readyz', '/metrics'].includes(req.url ?? '') },
    }),
  );
  app.use(metrics.middleware);
  app.use('/docs', docsRouter(docs)); // its own CSP, which allows exactly its assets
  app.use(helmet());

  app.use(healthRouter(ctx, docs, metrics));

  app.use('/v1', requireJsonBody, jsonBody(ctx.config.BODY_LIMIT_BYTES), limitJsonDepth);
  app.use('/v1', refuseUnstorableText); // NUL or lone surrogates in body or query: 400
  app.use('/v1/log', logRouter(ctx, docs)); // public: sizes and hashes only
  ctx.authCache.start(); // its LISTEN connection: until it listens, every token is looked up
  app.use('/v1', authenticate(ctx.pool, ctx.authCache)); // everything else knows who is asking
  app.use('/v1', idempotency(ctx));
  app.use('/v1', usersRouter(ctx, docs));
  app.use('/v1', journalismRouter(ctx, docs));
  app.use('/v1', membersRouter(ctx, docs));
  app.use('/v1', evidenceRouter(ctx, docs));
  app.use('/v1', exportsRouter(ctx, docs));

  app.get('/openapi.json', (_req, res) => {
    res.json(docs.document(ctx.config.BODY_LIMIT_BYTES));
  });

  // The web app at `/` (its own paths only; src/web/web.router.ts).
  app.use(webApp(ctx));

  app.use(notFoundHandler);
  app.use(errorHandler);
  return { app, docs };
}

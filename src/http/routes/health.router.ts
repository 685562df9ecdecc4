// Liveness, readiness (Postgres and Redis) and Prometheus metrics.
import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../../context.ts';
import { type ApiDocs, publicRoute } from '../openapi.ts';

/** Resolves 'ok' or the failure message within `ms`: a hung dependency must not hang /readyz. */
async function probe(fn: () => Promise<unknown>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${ms} ms`), ms);
  });
  try {
    return await Promise.race([fn().then(() => 'ok'), timeout]);
  } catch (err) {
    return (err as Error).message || 'failed';
  } finally {
    clearTimeout(timer);
  }
}

const readiness = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    checks: z.object({ postgres: z.string(), redis: z.string() }),
  })
  .openapi('Readiness');

export function healthRouter(
  ctx: AppContext,
  docs: ApiDocs,
  metrics: { registry: { metrics(): Promise<string>; contentType: string } },
) {
  const router = Router();

  docs.route({
    method: 'get',
    path: '/healthz',
    operationId: 'liveness',
    security: publicRoute,
    summary: 'Liveness: the process answers',
    responses: {
      200: {
        description: 'alive',
        content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } },
      },
    },
  });
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  docs.route({
    method: 'get',
    path: '/readyz',
    operationId: 'readiness',
    security: publicRoute,
    summary: 'Readiness: Postgres and Redis answer',
    responses: {
      200: { description: 'ready', content: { 'application/json': { schema: readiness } } },
      503: {
        description: 'a dependency is down (named in checks)',
        content: { 'application/json': { schema: readiness } },
      },
    },
  });
  router.get('/readyz', async (_req, res) => {
    const [postgres, redis] = await Promise.all([
      probe(() => ctx.pool.query('SELECT 1'), 2_000),
      probe(() => ctx.redis.ping(), 2_000),
    ]);
    const ok = postgres === 'ok' && redis === 'ok';
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'unavailable', checks: { postgres, redis } });
  });

  docs.route({
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    security: publicRoute,
    summary: 'Prometheus metrics',
    responses: {
      200: { description: 'text exposition format', content: { 'text/plain': { schema: z.string() } } },
    },
  });
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  return router;
}

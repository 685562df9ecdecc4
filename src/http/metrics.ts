// Prometheus metrics: request latency by route and status, job counts by queue and state, and
// the pipeline's lag and latency (pipeline-metrics.ts).
import type { RequestHandler } from 'express';
import type pg from 'pg';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Queues } from '../queue/queues.ts';
import { registerPipelineGauges } from './pipeline-metrics.ts';

const jobStates = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'] as const;

export function createMetrics(queues: Queues, pool: Pick<pg.Pool, 'query'>) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'claimtrail_' });

  const httpDuration = new Histogram({
    name: 'claimtrail_http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  new Gauge({
    name: 'claimtrail_jobs',
    help: 'BullMQ jobs by queue and state (read from Redis at scrape time)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        queues.all().map(async (q) => {
          // Redis being down must not fail the whole scrape: the gauge is simply absent.
          const counts = await q.getJobCounts(...jobStates).catch(() => undefined);
          if (!counts) return;
          for (const state of jobStates) this.set({ queue: q.name, state }, counts[state] ?? 0);
        }),
      );
    },
  });

  registerPipelineGauges(registry, pool);

  /** Observes every response; the route label is the matched template, never the raw path. */
  const middleware: RequestHandler = (req, res, next) => {
    const end = httpDuration.startTimer();
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };

  return { registry, middleware };
}

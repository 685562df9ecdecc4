// The worker process: one BullMQ Worker per queue of the catalogue, payloads validated
// before handlers run, permanent failures (bad payload, refused input) not retried. A process
// that captures owns the egress proxy and browser slots of page captures (issue 14), started
// here and closed after its jobs at shutdown.
import { type WorkerOptions as BullWorkerOptions, UnrecoverableError, Worker } from 'bullmq';
import { type BrowserCapture, startBrowserCapture } from '../src/capture/browser/browser-deps.ts';
import { startPlatformCapture } from '../src/capture/platform/platform-deps.ts';
import type { AppContext } from '../src/context.ts';
import { findJobSpec, jobNames, queueNames } from '../src/jobs/catalogue.ts';
import type { Component } from '../src/processes/component.ts';
import { createRedis, warnUnlessNoEviction } from '../src/queue/redis.ts';
import { indexHandlers, type JobHandler } from './handler.ts';
import { installSchedules, keepSchedules } from './schedules.ts';

export interface WorkerOptions {
  handlers: readonly JobHandler[];
  catalogueNames?: readonly string[];
  concurrency?: number;
  /** Install the repeating jobs (the capture and export sweeps: `everyMs` in the catalogue);
   * default true. Tests that share one database across files turn it off so no file sweeps
   * another's rows. */
  schedules?: boolean;
  /** Passed to every BullMQ Worker (tests shorten lockDuration/stalledInterval). */
  workerOptions?: Partial<Pick<BullWorkerOptions, 'lockDuration' | 'stalledInterval' | 'maxStalledCount'>>;
}

export async function startWorkers(
  ctx: AppContext,
  opts: WorkerOptions,
): Promise<Component & { workers: Worker[] }> {
  const handlers = indexHandlers(opts.catalogueNames ?? jobNames, opts.handlers);
  // BROWSER_PATH=off: no browser step at all (pages captured as before issue 14, nothing
  // recorded about it); a browser that is not there is `browser_unavailable` in each capture.
  const browser: BrowserCapture | undefined =
    handlers.has('capture.source') && ctx.config.BROWSER_PATH !== 'off'
      ? await startBrowserCapture(ctx)
      : undefined;
  // yt-dlp goes out through the same proxy (its own when there is no browser step); none: no
  // platform step (YTDLP_PATH=off, or no yt-dlp on the machine, said once here).
  const platform = handlers.has('capture.source')
    ? await startPlatformCapture(ctx, browser?.deps.egress)
    : undefined;
  const connection = createRedis(ctx.config.REDIS_URL, 'worker');
  await warnUnlessNoEviction(connection, ctx.log);

  const workers = queueNames.map((queue) => {
    const worker = new Worker(
      queue,
      async (job, token) => {
        const handler = handlers.get(job.name);
        const spec = findJobSpec(job.name);
        if (!handler || !spec) throw new UnrecoverableError(`no handler for job "${job.name}"`);
        const parsed = spec.schema.safeParse(job.data);
        if (!parsed.success) throw new UnrecoverableError(`invalid payload: ${parsed.error.message}`);
        const log = ctx.log.child({ jobId: job.id, job: job.name, attempt: job.attemptsMade + 1 });
        return handler.run(parsed.data as never, {
          ctx,
          job,
          token,
          log,
          ...(browser ? { browser: browser.deps } : {}),
          ...(platform ? { platform: platform.deps } : {}),
        });
      },
      {
        connection,
        prefix: ctx.config.REDIS_PREFIX,
        concurrency: opts.concurrency ?? ctx.config.WORKER_CONCURRENCY,
        ...opts.workerOptions,
      },
    );
    worker.on('failed', (job, err) =>
      ctx.log.warn(
        { jobId: job?.id, job: job?.name, reason: err.message, attempts: job?.attemptsMade },
        'job failed',
      ),
    );
    worker.on('error', (err) => ctx.log.error({ err: err.message, queue }, 'worker error'));
    return worker;
  });
  const handled = new Set(handlers.keys());
  if (opts.schedules !== false) await installSchedules(ctx, handled);
  // Redis may come back without them (see workers/schedules.ts).
  const schedules = opts.schedules !== false ? keepSchedules(ctx, handled) : undefined;
  ctx.log.info({ queues: queueNames, jobs: [...handlers.keys()] }, 'workers started');

  return {
    name: 'workers',
    workers,
    async stop(deadline) {
      schedules?.stop();
      // pause() stops fetching and resolves when active jobs are done. close(true) must come
      // after the race: BullMQ's close(true) returns an already pending close() unchanged.
      // A job still running at the deadline keeps its lock until it expires, then BullMQ's
      // stalled-job check hands it back to the queue for another worker.
      const graceful = Promise.all(workers.map((w) => w.pause()));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
      });
      if ((await Promise.race([graceful, timedOut])) === 'timeout') {
        ctx.log.warn('jobs still running at the shutdown deadline: forcing close, they will be retried');
      }
      clearTimeout(timer);
      await Promise.all(workers.map((w) => w.close(true)));
      connection.disconnect();
      // After the jobs: a capture still in its page would lose its proxy mid-load. A yt-dlp
      // still running (past the deadline) is killed with its process group.
      await platform?.close();
      await browser?.close();
    },
  };
}

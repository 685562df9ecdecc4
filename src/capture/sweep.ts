// The capture sweep (see workers/jobs/capture-sweep.job.ts): repairs what a crash or a lost
// enqueue can leave behind, and requests due recaptures.
import type { AppContext } from '../context.ts';
import { Prisma } from '../db/prisma.ts';
import { failExport } from '../exports/export-build.ts';
import { enqueueExport, exportJobId } from '../exports/exports.service.ts';
import { captureJobId, enqueueCapture, requestCapture } from './capture-request.ts';
import { failCapture } from './capture-store.ts';

/** A capture row this old and still `queued` has probably lost its job. */
const LOST_AFTER_MS = 30_000;
const BATCH = 500;

export async function sweepCaptures(ctx: AppContext) {
  const { prisma, config } = ctx;
  // 1. Lost enqueues. BullMQ ignores an add whose job id it still holds, so a capture whose
  //    job exists (waiting, delayed for backoff) is not enqueued twice.
  const stale = await prisma.capture.findMany({
    where: { status: 'queued', requestedAt: { lt: new Date(Date.now() - LOST_AFTER_MS) } },
    select: { id: true },
    take: BATCH,
  });
  let requeued = 0;
  for (const { id } of stale) {
    const existing = await ctx.queues.get('capture').getJob(captureJobId(id));
    if (existing) continue;
    await enqueueCapture(ctx.queues, id);
    requeued++;
  }

  // Exports follow the same commit-then-enqueue pattern and are repaired the same way.
  const staleExports = await prisma.export.findMany({
    where: { status: 'queued', createdAt: { lt: new Date(Date.now() - LOST_AFTER_MS) } },
    select: { id: true },
    take: BATCH,
  });
  for (const { id } of staleExports) {
    if (await ctx.queues.get('export').getJob(exportJobId(id))) continue;
    await enqueueExport(ctx.queues, id);
    requeued++;
  }

  // Captures and exports left `running` by a job BullMQ gave up on without our handler
  // running (a job that stalled more than maxStalledCount times, e.g. a worker killed
  // repeatedly): record the failure so the source does not stay `capturing` forever. A running
  // row whose job vanished (Redis lost it) is enqueued again; the job resumes from progress.
  const running = await prisma.capture.findMany({
    where: { status: 'running', startedAt: { lt: new Date(Date.now() - LOST_AFTER_MS) } },
    select: { id: true },
    take: BATCH,
  });
  let repaired = 0;
  for (const { id } of running) {
    const job = await ctx.queues.get('capture').getJob(captureJobId(id));
    if (job && (await job.getState()) !== 'failed') continue;
    if (job) {
      await failCapture(prisma, {
        captureId: id,
        actor: 'system:capture-sweep',
        failure: {
          code: 'job_failed',
          detail: (job.failedReason ?? 'the job failed').slice(0, 500),
          retryable: false,
        },
      });
    } else await enqueueCapture(ctx.queues, id);
    repaired++;
  }
  const runningExports = await prisma.export.findMany({
    where: { status: 'running', startedAt: { lt: new Date(Date.now() - LOST_AFTER_MS) } },
    select: { id: true },
    take: BATCH,
  });
  for (const { id } of runningExports) {
    const job = await ctx.queues.get('export').getJob(exportJobId(id));
    if (job && (await job.getState()) !== 'failed') continue;
    if (job) await failExport(ctx, id, job.failedReason ?? 'the job failed');
    else await enqueueExport(ctx.queues, id);
    repaired++;
  }

  // 2. Due recaptures: captured sources whose latest capture is older than their interval
  //    (their own, else the global one), with no capture waiting or running. Each is asked
  //    again under a per-source lock in the transaction that requests it, so two sweeps running
  //    at once request one recapture, not two.
  const dueSources = (db: Pick<typeof prisma, '$queryRaw'>, only?: string) => db.$queryRaw<{ id: string }[]>`
    SELECT s.id FROM sources s
    WHERE s.status = 'captured'
      AND ${only === undefined ? Prisma.sql`TRUE` : Prisma.sql`s.id = ${only}::uuid`}
      AND coalesce(s.recapture_every_seconds, nullif(${config.RECAPTURE_EVERY_SECONDS}::int, 0)) IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM captures c WHERE c.source_id = s.id AND c.status IN ('queued', 'running'))
      AND (SELECT max(c.requested_at) FROM captures c WHERE c.source_id = s.id)
          < now() - make_interval(secs => coalesce(s.recapture_every_seconds, ${config.RECAPTURE_EVERY_SECONDS}::int))
    ORDER BY s.id LIMIT ${BATCH}`;
  const scheduled: string[] = [];
  for (const { id } of await dueSources(prisma)) {
    const captureId = await prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(hashtextextended(${`recapture:${id}`}, 0))) l`;
      const still = await dueSources(tx, id);
      if (still.length === 0) return undefined; // another sweep requested it meanwhile
      return requestCapture(tx, {
        sourceId: id,
        reason: 'scheduled',
        requestedBy: null,
        actor: 'system:recapture',
      });
    });
    if (captureId) scheduled.push(captureId);
  }
  for (const captureId of scheduled) await enqueueCapture(ctx.queues, captureId);

  // 3. Partial files of writers killed mid-download (a retry of the same capture replaces its
  //    own; this catches captures that were never retried).
  const tmpRemoved = await ctx.blobs.sweepTemporary(2 * config.FETCH_TIMEOUT_MS);
  return { requeued, repaired, scheduled: scheduled.length, tmpRemoved };
}

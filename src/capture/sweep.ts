// The capture sweep (see workers/jobs/capture-sweep.job.ts).
import type { AppContext } from '../context.ts';
import { captureJobId, enqueueCapture, requestCapture } from './capture-request.ts';

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
    if (await ctx.queues.get('export').getJob(`export-${id}`)) continue;
    await ctx.queues.enqueue('export.build', { exportId: id }, { jobId: `export-${id}` });
    requeued++;
  }

  // 2. Due recaptures: captured sources whose latest capture is older than their interval
  //    (their own, else the global one), with no capture waiting or running.
  const due = await prisma.$queryRaw<{ id: string }[]>`
    SELECT s.id FROM sources s
    WHERE s.status = 'captured'
      AND coalesce(s.recapture_every_seconds, nullif(${config.RECAPTURE_EVERY_SECONDS}::int, 0)) IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM captures c WHERE c.source_id = s.id AND c.status IN ('queued', 'running'))
      AND (SELECT max(c.requested_at) FROM captures c WHERE c.source_id = s.id)
          < now() - make_interval(secs => coalesce(s.recapture_every_seconds, ${config.RECAPTURE_EVERY_SECONDS}::int))
    ORDER BY s.id LIMIT ${BATCH}`;
  const scheduled: string[] = [];
  for (const { id } of due) {
    scheduled.push(
      await prisma.$transaction((tx) =>
        requestCapture(tx, {
          sourceId: id,
          reason: 'scheduled',
          requestedBy: null,
          actor: 'system:recapture',
        }),
      ),
    );
  }
  for (const captureId of scheduled) await enqueueCapture(ctx.queues, captureId);

  // 3. Partial files of writers killed mid-download (a retry of the same capture replaces its
  //    own; this catches captures that were never retried).
  const tmpRemoved = await ctx.blobs.sweepTemporary(2 * config.FETCH_TIMEOUT_MS);
  return { requeued, scheduled: scheduled.length, tmpRemoved };
}

// The capture sweep (see workers/jobs/capture-sweep.job.ts): repairs what a crash or a lost
// enqueue can leave behind, and requests due recaptures.
import type { AppContext } from '../context.ts';
import { Prisma } from '../db/prisma.ts';
import { type JobRows, repairLostJobs } from '../queue/lost-jobs.ts';
import { captureJobId, enqueueCapture, requestCapture } from './capture-request.ts';
import { failCapture } from './capture-store.ts';

const BATCH = 500;

/** Captures for the lost-job repair: a capture BullMQ gave up on is failed, so its source
 * does not stay `capturing` forever; one whose job vanished resumes from its progress. */
const captureJobRows = ({ prisma, queues }: AppContext): JobRows => ({
  queue: 'capture',
  jobId: captureJobId,
  enqueue: (id) => enqueueCapture(queues, id),
  stale: async (status, cutoff, limit) => {
    const rows = await prisma.capture.findMany({
      where:
        status === 'queued' ? { status, requestedAt: { lt: cutoff } } : { status, startedAt: { lt: cutoff } },
      select: { id: true },
      take: limit,
    });
    return rows.map((r) => r.id);
  },
  fail: (id, reason) =>
    failCapture(prisma, {
      captureId: id,
      actor: 'system:capture-sweep',
      failure: { code: 'job_failed', detail: reason.slice(0, 500), retryable: false },
    }),
});

export async function sweepCaptures(ctx: AppContext) {
  const { prisma, config } = ctx;
  // 1. Captures whose job was lost, or failed without our handler recording it.
  const { requeued, repaired } = await repairLostJobs(ctx.queues, captureJobRows(ctx));

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

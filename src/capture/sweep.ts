// The capture sweep (see workers/jobs/capture-sweep.job.ts): repairs what a crash or a lost
// enqueue can leave behind, and requests due recaptures.
import type { AppContext } from '../context.ts';
import { writeTransaction } from '../db/unit-of-work.ts';
import { type JobRows, repairLostJobs } from '../queue/lost-jobs.ts';
import { captureJobId, enqueueCapture, requestCapture } from './capture-request.ts';
import { failCapture } from './capture-steps.ts';
import { dueRecaptures } from './capture-store.ts';

const BATCH = 500;

/** Captures for the lost-job repair: a capture BullMQ gave up on is failed, so its source
 * does not stay `capturing` forever; one whose job vanished resumes from its progress. */
const captureJobRows = ({ prisma, pool, queues }: AppContext): JobRows => ({
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
    failCapture(pool, {
      captureId: id,
      actor: 'system:capture-sweep',
      failure: { code: 'job_failed', detail: reason.slice(0, 500), retryable: false },
    }),
});

export async function sweepCaptures(ctx: AppContext) {
  const { config } = ctx;
  // 1. Captures whose job was lost, or failed without our handler recording it.
  const { requeued, repaired } = await repairLostJobs(ctx.queues, captureJobRows(ctx));

  // 2. Due recaptures: captured sources whose latest capture is older than their interval
  //    (their own, else the global one), with no capture waiting or running. Each is asked
  //    again under a per-source lock in the transaction that requests it, so two sweeps running
  //    at once request one recapture, not two.
  const every = config.RECAPTURE_EVERY_SECONDS;
  let scheduled = 0;
  for (const id of await dueRecaptures(ctx.pool, { everySeconds: every, limit: BATCH })) {
    const requested = await writeTransaction(ctx.pool, async (tx) => {
      await tx.lock(`recapture:${id}`);
      const still = await dueRecaptures(tx.client, { everySeconds: every, limit: 1, only: id });
      if (still.length === 0) return false; // another sweep requested it meanwhile
      await requestCapture(tx, ctx.queues, {
        sourceId: id,
        reason: 'scheduled',
        requestedBy: null,
        actor: 'system:recapture',
      });
      return true;
    });
    if (requested) scheduled++;
  }

  // 3. Partial files of writers killed mid-download (a retry of the same capture replaces its
  //    own; this catches captures that were never retried).
  const tmpRemoved = await ctx.blobs.sweepTemporary(2 * config.FETCH_TIMEOUT_MS);
  return { requeued, repaired, scheduled, tmpRemoved };
}

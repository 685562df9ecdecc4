// Rows whose job went missing. A part that commits a row and then enqueues its job (captures,
// exports) can be left with a row and no job: the process died between COMMIT and the enqueue,
// Redis lost the job, or BullMQ gave up on a job without our handler running (a job that
// stalled more than maxStalledCount times, e.g. a worker killed repeatedly). Each part's sweep
// repairs its rows with this, once per sweep; the part says how its rows are found and failed.
import type { QueueName } from '../jobs/catalogue.ts';
import type { Queues } from './queues.ts';

/** A row `queued` or `running` this long may have lost its job (its enqueue may still be on
 * its way before that). */
export const LOST_AFTER_MS = 30_000;
/** Rows looked at per state and sweep; the next sweep takes the rest. */
export const LOST_BATCH = 500;

export interface JobRows {
  /** The queue the rows' jobs run on. */
  queue: QueueName;
  /** A row's job id (one job per row). */
  jobId(rowId: string): string;
  /** Adds the row's job; a job resumes from what its row records. */
  enqueue(rowId: string): Promise<unknown>;
  /** Ids of rows in `status` since before `cutoff` (queued: requested, running: started). */
  stale(status: 'queued' | 'running', cutoff: Date, limit: number): Promise<string[]>;
  /** Records the failure of a running row whose job failed for good without recording it. */
  fail(rowId: string, reason: string): Promise<unknown>;
}

export interface LostJobRepair {
  /** Queued rows without a job, enqueued again. */
  requeued: number;
  /** Running rows whose job failed (now failed) or vanished (enqueued again). */
  repaired: number;
}

export async function repairLostJobs(queues: Queues, rows: JobRows): Promise<LostJobRepair> {
  const queue = queues.get(rows.queue);
  const cutoff = new Date(Date.now() - LOST_AFTER_MS);
  // Lost enqueues. A row whose job exists (waiting, delayed for backoff) is left alone, and
  // BullMQ ignores an add whose job id it still holds, so two sweeps add one job.
  let requeued = 0;
  for (const id of await rows.stale('queued', cutoff, LOST_BATCH)) {
    if (await queue.getJob(rows.jobId(id))) continue;
    await rows.enqueue(id);
    requeued++;
  }
  // Rows left running: a job that failed for good is recorded as the row's failure (so it
  // does not stay running forever); a job that vanished is enqueued again.
  let repaired = 0;
  for (const id of await rows.stale('running', cutoff, LOST_BATCH)) {
    const job = await queue.getJob(rows.jobId(id));
    if (job && (await job.getState()) !== 'failed') continue;
    if (job) await rows.fail(id, job.failedReason ?? 'the job failed');
    else await rows.enqueue(id);
    repaired++;
  }
  return { requeued, repaired };
}

// The export sweep (job export.sweep, workers/jobs/export-sweep.job.ts): exports whose job
// went missing. requestExport commits the row, then enqueues; a build that BullMQ gave up on
// without our handler running leaves the row `running`. Both are repaired here, apart from
// the capture sweep, on the export queue's own schedule.
import type { AppContext } from '../context.ts';
import { type JobRows, type LostJobRepair, repairLostJobs } from '../queue/lost-jobs.ts';
import { failExport } from './export-build.ts';
import { enqueueExport, exportJobId } from './exports.service.ts';
import { staleExports } from './exports-store.ts';

/** Exports for the lost-job repair: a build that failed for good is recorded as
 * `export_failed`; one whose job vanished is built again (reusing its export_scope record). */
const exportJobRows = ({ pool, queues }: Pick<AppContext, 'pool' | 'queues'>): JobRows => ({
  queue: 'export',
  jobId: exportJobId,
  enqueue: (id) => enqueueExport(queues, id),
  stale: (status, cutoff, limit) => staleExports(pool, status, cutoff, limit),
  fail: (id, reason) => failExport({ pool }, id, reason),
});

export function sweepExports(ctx: Pick<AppContext, 'pool' | 'queues'>): Promise<LostJobRepair> {
  return repairLostJobs(ctx.queues, exportJobRows(ctx));
}

// The export sweep (job export.sweep, workers/jobs/export-sweep.job.ts): exports whose job
// went missing. requestExport commits the row, then enqueues; a build that BullMQ gave up on
// without our handler running leaves the row `running`. Both are repaired here, apart from
// the capture sweep, on the export queue's own schedule.
import type { AppContext } from '../context.ts';
import { type JobRows, type LostJobRepair, repairLostJobs } from '../queue/lost-jobs.ts';
import { failExport } from './export-build.ts';
import { enqueueExport, exportJobId } from './exports.service.ts';

/** Exports for the lost-job repair: a build that failed for good is recorded as
 * `export_failed`; one whose job vanished is built again (reusing its export_scope record). */
const exportJobRows = ({
  prisma,
  pool,
  queues,
}: Pick<AppContext, 'prisma' | 'pool' | 'queues'>): JobRows => ({
  queue: 'export',
  jobId: exportJobId,
  enqueue: (id) => enqueueExport(queues, id),
  stale: async (status, cutoff, limit) => {
    const rows = await prisma.export.findMany({
      where:
        status === 'queued' ? { status, createdAt: { lt: cutoff } } : { status, startedAt: { lt: cutoff } },
      select: { id: true },
      take: limit,
    });
    return rows.map((r) => r.id);
  },
  fail: (id, reason) => failExport({ pool }, id, reason),
});

export function sweepExports(ctx: Pick<AppContext, 'prisma' | 'pool' | 'queues'>): Promise<LostJobRepair> {
  return repairLostJobs(ctx.queues, exportJobRows(ctx));
}

// export.sweep (repeating): the export system's housekeeping, safe to run on any worker and
// to run twice. Re-enqueues exports whose enqueue was lost after their row committed, and
// records the failure of builds BullMQ gave up on without our handler running.
import { sweepExports } from '../../src/exports/export-sweep.ts';
import { handle } from '../handler.ts';

export const exportSweepJob = handle('export.sweep', async (_payload, { ctx, log }) => {
  const result = await sweepExports(ctx);
  if (result.requeued || result.repaired) log.info(result, 'export sweep');
  return result;
});

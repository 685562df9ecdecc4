// export.build: builds one export (src/exports/export-build.ts). The last failed attempt is
// recorded as `export_failed` with its reason.
import { UnrecoverableError } from 'bullmq';
import { buildExport, failExport } from '../../src/exports/export-build.ts';
import { handle } from '../handler.ts';

export const exportBuildJob = handle('export.build', async ({ exportId }, { ctx, job, log }) => {
  try {
    return await buildExport(ctx, exportId, log);
  } catch (err) {
    const reason = (err as Error).message ?? String(err);
    const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    log.warn({ exportId, reason, last }, 'export attempt failed');
    if (!last) throw err;
    await failExport(ctx, exportId, reason);
    throw new UnrecoverableError(reason);
  }
});

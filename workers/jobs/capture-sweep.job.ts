// capture.sweep (repeating): the capture system's housekeeping, safe to run on any worker and
// to run twice. Re-enqueues captures whose enqueue was lost after their row committed,
// requests recaptures that are due, and removes temporary files of writers that died.
import { sweepCaptures } from '../../src/capture/sweep.ts';
import { handle } from '../handler.ts';

export const captureSweepJob = handle('capture.sweep', async (_payload, { ctx, log }) => {
  const result = await sweepCaptures(ctx);
  if (result.requeued || result.repaired || result.scheduled || result.tmpRemoved)
    log.info(result, 'capture sweep');
  return result;
});

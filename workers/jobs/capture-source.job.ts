// capture.source: one capture of one source (src/capture/run-capture.ts). A refused fetch or
// a gone source fails at once (recorded, not retried); transient errors are retried by
// BullMQ with exponential backoff, each failed attempt recorded in the chain.
import { UnrecoverableError } from 'bullmq';
import { captureDeps } from '../../src/capture/capture-deps.ts';
import { CaptureRefused, runCapture } from '../../src/capture/run-capture.ts';
import { handle } from '../handler.ts';

export const captureSourceJob = handle('capture.source', async ({ captureId }, { ctx, job, log }) => {
  const deps = await captureDeps(ctx);
  try {
    const result = await runCapture({ ...deps, log }, captureId, {
      number: job.attemptsMade + 1,
      max: job.opts.attempts ?? 1,
    });
    log.info({ captureId, ...result }, 'capture finished');
    return result;
  } catch (err) {
    if (err instanceof CaptureRefused) throw new UnrecoverableError(err.message);
    throw err;
  }
});

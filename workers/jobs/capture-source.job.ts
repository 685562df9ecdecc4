// capture.source: one capture of one source (src/capture/run-capture.ts). A refused fetch or
// a gone source fails at once (recorded, not retried); transient errors are retried by
// BullMQ with exponential backoff, each failed attempt recorded in the chain. A capture whose
// host has no free slot goes back to the queue as delayed: it holds no worker slot while it
// waits, and (BullMQ's moveToDelayed skips the attempt) uses none of its attempts.
import { randomInt } from 'node:crypto';
import { DelayedError, UnrecoverableError } from 'bullmq';
import { captureDeps } from '../../src/capture/capture-deps.ts';
import { CaptureRefused, HostBusy, runCapture } from '../../src/capture/run-capture.ts';
import { handle } from '../handler.ts';

/** How long a capture waits for its host's slot before it looks again (plus up to as much jitter). */
export const HOST_BUSY_DELAY_MS = 1_000;

export const captureSourceJob = handle(
  'capture.source',
  async ({ captureId }, { ctx, job, token, log, browser, platform }) => {
    const deps = await captureDeps(ctx);
    // A capture that went back to wait for a host mid-way says so in the job's progress (the
    // payload is the catalogue's); read once, so a crash after this run resumes as usual.
    const resumeAfterHostWait = isHostWait(job.progress);
    if (resumeAfterHostWait) await job.updateProgress(0);
    try {
      const result = await runCapture(
        { ...deps, log, ...(browser ? { browser } : {}), ...(platform ? { platform } : {}) },
        captureId,
        { number: job.attemptsMade + 1, max: job.opts.attempts ?? 1 },
        { resumeAfterHostWait },
      );
      log.info({ captureId, ...result }, 'capture finished');
      return result;
    } catch (err) {
      if (err instanceof CaptureRefused) throw new UnrecoverableError(err.message);
      if (err instanceof HostBusy && token) {
        log.debug({ captureId, host: err.host }, 'host busy: capture delayed');
        if (err.started) await job.updateProgress({ waitingForHost: err.host });
        await job.moveToDelayed(Date.now() + HOST_BUSY_DELAY_MS + randomInt(HOST_BUSY_DELAY_MS), token);
        throw new DelayedError();
      }
      throw err;
    }
  },
);

const isHostWait = (progress: unknown): boolean =>
  typeof progress === 'object' && progress !== null && 'waitingForHost' in progress;

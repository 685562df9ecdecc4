// What a job handler receives and how handlers are bound to catalogue names.
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { BrowserCaptureDeps } from '../src/capture/browser/capture-with-browser.ts';
import type { PlatformCaptureDeps } from '../src/capture/platform/capture-with-ytdlp.ts';
import type { AppContext } from '../src/context.ts';
import type { JobName, JobPayload } from '../src/jobs/catalogue.ts';

export interface JobContext {
  ctx: AppContext;
  job: Job;
  /** The worker's lock token for the job (BullMQ's job.moveToDelayed needs it). */
  token: string | undefined;
  log: Logger;
  /** The process's browser and egress proxy for page captures; absent with BROWSER_PATH=off. */
  browser?: BrowserCaptureDeps;
  /** The process's yt-dlp for platform video; absent with YTDLP_PATH=off or no yt-dlp. */
  platform?: PlatformCaptureDeps;
}

export interface JobHandler<N extends JobName = JobName> {
  name: N;
  run(payload: JobPayload<N>, jc: JobContext): Promise<unknown>;
}

export const handle = <N extends JobName>(name: N, run: JobHandler<N>['run']): JobHandler<N> => ({
  name,
  run,
});

/** Startup check: every catalogued job has exactly one handler and no handler is stray. */
export function indexHandlers(
  names: readonly string[],
  handlers: readonly JobHandler[],
): Map<string, JobHandler> {
  const byName = new Map<string, JobHandler>();
  for (const h of handlers) {
    if (byName.has(h.name)) throw new Error(`job "${h.name}" has two handlers`);
    if (!names.includes(h.name))
      throw new Error(`handler for "${h.name}", which is not in the job catalogue`);
    byName.set(h.name, h);
  }
  const missing = names.filter((n) => !byName.has(n));
  if (missing.length) throw new Error(`catalogued jobs without a handler: ${missing.join(', ')}`);
  return byName;
}

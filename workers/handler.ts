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

/**
 * A handler whose module is imported on its first job. A worker process then loads what a kind
 * of job needs (sharp, playwright-core, exifr … for captures; the bag writer for exports) only
 * once it runs one: a process that builds exports never pays for media decoders and the
 * browser. An import that fails is tried again by the next job.
 */
export function lazyHandler<N extends JobName>(name: N, load: () => Promise<JobHandler<N>>): JobHandler<N> {
  let loaded: Promise<JobHandler<N>> | undefined;
  return {
    name,
    async run(payload, jc) {
      loaded ??= load().then(
        (handler) => {
          if (handler.name !== name) throw new Error(`the module for "${name}" handles "${handler.name}"`);
          return handler;
        },
        (err: unknown) => {
          loaded = undefined;
          throw err;
        },
      );
      return (await loaded).run(payload, jc);
    },
  };
}

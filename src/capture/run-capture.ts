// One run of a capture job: plan what to fetch for the source (the URL itself, or for an X
// post its syndication record and media), fetch each into the blob store, describe and record
// it, then check declared against observed and end the capture. Every step is recorded as it
// finishes (capture-store.ts), so a retry after a crash resumes where the last run stopped.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config/env.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { FetchError, FetchTransientError, type GuardedFetcher } from '../fetch/guarded-fetcher.ts';
import { appendEvent } from '../ledger/ledger.repository.ts';
import type { HostLease, HostSlots } from '../queue/host-slots.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import {
  type CaptureStep,
  completeCapture,
  failCapture,
  progressOf,
  recordFetch,
  recordSkippedFetch,
} from './capture-store.ts';
import { describe } from './describe.ts';
import { ContentGoneError, fetchPostRecord, fetchToStore, PostNotFoundError } from './fetch-to-store.ts';
import { captureHost, PlanError, planFollowUps, planSource, type Target } from './plan.ts';

export interface CaptureDeps {
  prisma: PrismaClient;
  blobs: BlobStore;
  fetcher: GuardedFetcher;
  config: Pick<Config, 'FETCH_MAX_BYTES' | 'X_SYNDICATION_URL'>;
  ffprobePath: string;
  log: Logger;
  /** The per-host share of capture slots (absent: no limit, e.g. a benchmark's own runs). */
  hostSlots?: Pick<HostSlots, 'tryAcquire'>;
  /** The per-investigation share (absent: no limit). */
  investigationSlots?: Pick<HostSlots, 'tryAcquire'>;
}

export const workerActor = () => `worker:${hostname()}:${process.pid}`;

/** Thrown when an attempt failed but the job should run again (BullMQ backoff). */
export class CaptureRetry extends Error {
  override name = 'CaptureRetry';
}

/**
 * Every slot of a host the capture needs is taken: run it later. `started`: the capture had
 * begun (its steps so far are recorded), so the later run resumes it without a second
 * `fetch_started` and without counting an attempt.
 */
export class HostBusy extends Error {
  override name = 'HostBusy';
  constructor(
    readonly host: string,
    readonly started = false,
  ) {
    super(`every capture slot of ${host} is taken`);
  }
}

/** A failure that no retry can heal, already recorded: BullMQ must not retry. */
export class CaptureRefused extends Error {
  override name = 'CaptureRefused';
}

export async function runCapture(
  deps: CaptureDeps,
  captureId: string,
  attempt: { number: number; max: number },
  opts: { resumeAfterHostWait?: boolean } = {},
): Promise<{ status: 'completed' | 'skipped'; steps: number }> {
  const actor = workerActor();
  const capture = await deps.prisma.capture.findUnique({
    where: { id: captureId },
    include: { source: true },
  });
  if (!capture) throw new CaptureRefused(`no capture ${captureId}`);
  if (capture.status === 'completed' || capture.status === 'failed') return { status: 'skipped', steps: 0 };
  // The slot is taken before anything is recorded, so a capture that waits for its host adds
  // no event and uses no attempt.
  const resuming = opts.resumeAfterHostWait === true && capture.status === 'running';
  const investigation = `investigation ${capture.source.investigationId}`;
  const share = deps.investigationSlots
    ? await deps.investigationSlots.tryAcquire(capture.source.investigationId, captureId)
    : undefined;
  if (deps.investigationSlots && !share) throw new HostBusy(investigation, resuming);
  const host = captureHost(capture.source, deps.config);
  let lease: HostLease | undefined;
  try {
    lease = host && deps.hostSlots ? await deps.hostSlots.tryAcquire(host, captureId) : undefined;
    if (host && deps.hostSlots && !lease) throw new HostBusy(host, resuming);
    if (!resuming) await markStarted(deps.prisma, captureId, capture.sourceId, capture.source.url, actor);
    return await runStarted(deps, capture, actor, attempt, host);
  } finally {
    for (const [held, what] of [
      [lease, host],
      [share, investigation],
    ] as const) {
      await held
        ?.release()
        .catch((err: Error) => deps.log.warn({ slot: what, err: err.message }, 'capture slot not released'));
    }
  }
}

async function runStarted(
  deps: CaptureDeps,
  capture: { id: string; sourceId: string; source: { url: string; platform: unknown } },
  actor: string,
  attempt: { number: number; max: number },
  host: string | undefined,
): Promise<{ status: 'completed'; steps: number }> {
  const captureId = capture.id;

  try {
    const queue: Target[] = planSource(capture.source, deps.config);
    const steps: CaptureStep[] = [];
    for (let i = 0; i < queue.length; i++) {
      const target = queue[i]!;
      let step: CaptureStep;
      try {
        step = await captureTarget(deps, captureId, actor, target, i, host);
      } catch (err) {
        // What a page merely declares is third-party content: its failure is recorded and
        // the capture of the page itself goes on.
        const failure = target.role === 'declared' && describeFailure(err, { number: 1, max: 1 });
        if (!failure) throw err;
        await recordSkippedFetch(deps.prisma, { captureId, actor, url: target.url, ...failure });
        continue;
      }
      steps.push(step);
      queue.push(...(await planFollowUps(deps, target, step, queue)));
    }
    await completeCapture(deps.prisma, { captureId, actor });
    return { status: 'completed', steps: steps.length };
  } catch (err) {
    if (err instanceof HostBusy) throw err; // nothing failed: the job waits for the host
    const failure = describeFailure(err, attempt);
    if (!failure) throw err;
    await failCapture(deps.prisma, { captureId, actor, failure });
    deps.log.warn({ captureId, code: failure.code, detail: failure.detail }, 'capture attempt failed');
    if (failure.retryable) throw new CaptureRetry(`${failure.code}: ${failure.detail}`);
    throw new CaptureRefused(`${failure.code}: ${failure.detail}`);
  }
}

/**
 * A slot of a target's host when it is not the capture's own (media of a post or a page on
 * another host), so no host gets more connections than its share from secondary fetches
 * either. Taken without waiting. A busy host: a page's declared media is skipped and recorded
 * (`host_busy`); a post's media is what the capture is for, so the whole job waits in the
 * queue (HostBusy, no attempt used) and resumes after the steps it already recorded.
 */
async function otherHostSlot(
  deps: CaptureDeps,
  captureId: string,
  captureHost: string | undefined,
  target: Target,
): Promise<HostLease | undefined> {
  if (!deps.hostSlots) return undefined;
  let host: string;
  try {
    host = new URL(target.url).host.toLowerCase();
  } catch {
    return undefined; // the fetch refuses it with its own reason
  }
  if (host === captureHost) return undefined;
  const lease = await deps.hostSlots.tryAcquire(host, captureId);
  if (lease) return lease;
  if (target.role !== 'declared') throw new HostBusy(host, true);
  throw new FetchTransientError('host_busy', `every capture slot of ${host} is taken`);
}

async function markStarted(
  prisma: PrismaClient,
  captureId: string,
  sourceId: string,
  url: string,
  actor: string,
) {
  await prisma.$transaction(async (tx) => {
    // One statement: started_at keeps the first attempt's time.
    await tx.$executeRaw`
      UPDATE captures SET status = 'running', attempts = attempts + 1, worker = ${actor},
        started_at = coalesce(started_at, now())
      WHERE id = ${captureId}::uuid`;
    await tx.source.update({ where: { id: sourceId }, data: { status: 'capturing' } });
    await appendEvent(tx, {
      subject: { type: 'source', id: sourceId },
      type: 'fetch_started',
      actor,
      data: { captureId, url, worker: actor },
    });
  });
}

/** Fetches (unless this capture already recorded the URL), describes and records one target. */
async function captureTarget(
  deps: CaptureDeps,
  captureId: string,
  actor: string,
  target: Target,
  index: number,
  host: string | undefined,
): Promise<CaptureStep> {
  const cap = await deps.prisma.capture.findUniqueOrThrow({
    where: { id: captureId },
    select: { progress: true },
  });
  const done = progressOf(cap.progress).steps.find((s) => s.url === target.url);
  if (done) return done;
  const lease = await otherHostSlot(deps, captureId, host, target);
  try {
    return await fetchAndRecord(deps, captureId, actor, target, index);
  } finally {
    await lease?.release().catch(() => {}); // it expires on its own
  }
}

async function fetchAndRecord(
  deps: CaptureDeps,
  captureId: string,
  actor: string,
  target: Target,
  index: number,
): Promise<CaptureStep> {
  const fetchTarget = target.role === 'post_metadata' ? fetchPostRecord : fetchToStore;
  const fetched = await fetchTarget(deps.fetcher, deps.blobs, target.url, {
    maxBytes: deps.config.FETCH_MAX_BYTES,
    tmpKey: `${captureId}-${index}`,
    accept: target.accept,
  });
  return recordFetch(deps.prisma, {
    captureId,
    actor,
    fetched,
    item: () =>
      describe(deps, {
        sha256: fetched.blob.sha256,
        head: fetched.blob.head,
        declaredType: fetched.headers['content-type'] ?? null,
        forcedKind: target.kind,
        baseUrl: fetched.finalUrl,
      }),
  });
}

function describeFailure(err: unknown, attempt: { number: number; max: number }) {
  const last = attempt.number >= attempt.max;
  if (err instanceof ContentGoneError) {
    return {
      code: `http_${err.status}`,
      detail: err.message,
      retryable: false,
      goneStatus: err.status,
      goneUrl: err.url,
    };
  }
  if (err instanceof PostNotFoundError) {
    // Mirrors a 404: a source that holds evidence records `source_gone` and stays captured.
    const { exchange } = err;
    return {
      code: 'post_not_found',
      detail: err.detail,
      retryable: false,
      goneStatus: exchange.status,
      goneUrl: exchange.finalUrl,
      exchange,
    };
  }
  if (err instanceof FetchError) {
    const retryable = !err.permanent && !last;
    return { code: err.code, detail: err.detail, retryable };
  }
  if (err instanceof PlanError) return { code: err.code, detail: err.message, retryable: false };
  // Our own bug or a database outage: retried silently; the last attempt is recorded so the
  // capture never stays `running` forever.
  if (last)
    return {
      code: 'internal_error',
      detail: String((err as Error)?.message ?? err).slice(0, 500),
      retryable: false,
    };
  return undefined;
}

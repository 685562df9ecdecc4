// One run of a capture job: plan what to fetch for the source (the URL itself, or for an X
// post its syndication record and media), fetch each into the blob store, describe and record
// it, then check declared against observed and end the capture. Every step is recorded as it
// finishes (capture-store.ts), so a retry after a crash resumes where the last run stopped.
import { hostname } from 'node:os';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/env.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { FetchError, FetchTransientError, type GuardedFetcher } from '../fetch/guarded-fetcher.ts';
import { DEFAULT_MAX_PAGE_BYTES, readHead } from '../media/analyze.ts';
import { type HostLease, HostSlots } from '../queue/host-slots.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import {
  type BrowserCaptureDeps,
  BrowserCaptureError,
  type BrowserCaptureResult,
  captureWithBrowser,
  type StoredOutput,
} from './browser/capture-with-browser.ts';
import { renderedMedia } from './browser/rendered-media.ts';
import {
  type BrowserOutputs,
  completeCapture,
  failCapture,
  markStarted,
  recordBrowserCapture,
  recordBrowserFailure,
  recordFetch,
  recordSkippedFetch,
} from './capture-steps.ts';
import {
  browserKey,
  type CaptureProgress,
  type CaptureStep,
  type CaptureToRun,
  captureToRun,
} from './capture-store.ts';
import { describe, type NewItem } from './describe.ts';
import { ContentGoneError, fetchPostRecord, fetchToStore, PostNotFoundError } from './fetch-to-store.ts';
import {
  captureHost,
  PlanError,
  planFollowUps,
  planRenderedFollowUps,
  planSource,
  type Target,
} from './plan.ts';
import { type PlatformCaptureDeps, PlatformCaptureError } from './platform/capture-with-ytdlp.ts';
import { platformStepDue } from './platform/platform-hosts.ts';
import { platformDone, platformStep } from './platform/platform-step.ts';

export interface CaptureDeps {
  /** Reads that stay on Prisma (an item's metadata a resumed run did not record itself). */
  prisma: PrismaClient;
  /** The write path and the hot reads (src/db/unit-of-work.ts). */
  pool: pg.Pool;
  blobs: BlobStore;
  fetcher: GuardedFetcher;
  config: Pick<Config, 'FETCH_MAX_BYTES' | 'X_SYNDICATION_URL'> & Partial<Pick<Config, 'PDQ_MATCH_DISTANCE'>>;
  ffprobePath: string;
  /** ffmpeg for video hashes (FFMPEG_PATH); absent: looked for when a video is hashed. */
  ffmpegPath?: string;
  /** PEM of C2PA_TRUST_ANCHORS ('' when unset). */
  c2paTrustAnchors: string;
  log: Logger;
  /** The per-host share of capture slots (absent: no limit, e.g. a benchmark's own runs). */
  hostSlots?: HostSlots;
  /** The per-investigation share (absent: no limit); on the same Redis as hostSlots. */
  investigationSlots?: HostSlots;
  /** The worker process's browser and egress proxy (src/capture/browser/browser-deps.ts).
   * Absent (BROWSER_PATH=off, or code that runs captures without a worker): pages are
   * captured without a browser step and nothing about it is recorded. */
  browser?: BrowserCaptureDeps;
  /** The worker process's yt-dlp and egress proxy (src/capture/platform/platform-deps.ts).
   * Absent (YTDLP_PATH=off, no yt-dlp, or code that runs captures without a worker): no
   * platform step and nothing about it is recorded. */
  platform?: PlatformCaptureDeps;
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
  // One read: the capture, its source, and whether the source held evidence already.
  const capture = await captureToRun(deps.pool, captureId);
  if (!capture) throw new CaptureRefused(`no capture ${captureId}`);
  if (capture.status === 'completed' || capture.status === 'failed') return { status: 'skipped', steps: 0 };
  // The slot is taken before anything is recorded, so a capture that waits for its host adds
  // no event and uses no attempt.
  const resuming = opts.resumeAfterHostWait === true && capture.status === 'running';
  // The investigation's share and the host's, taken together in one round trip (all or none).
  const host = captureHost(capture.source, deps.config);
  const claims = [
    ...(deps.investigationSlots
      ? [
          {
            slots: deps.investigationSlots,
            name: capture.source.investigationId,
            what: `investigation ${capture.source.investigationId}`,
          },
        ]
      : []),
    ...(host && deps.hostSlots ? [{ slots: deps.hostSlots, name: host, what: host }] : []),
  ];
  const taken = await HostSlots.tryAcquireAll(claims, captureId);
  if ('busy' in taken) throw new HostBusy(taken.busy.what, resuming);
  try {
    if (!resuming)
      await markStarted(deps.pool, { captureId, sourceId: capture.sourceId, url: capture.source.url, actor });
    return await runStarted(deps, capture, actor, attempt, host);
  } finally {
    await taken.lease
      .release()
      .catch((err: Error) =>
        deps.log.warn({ slots: claims.map((c) => c.what), err: err.message }, 'capture slots not released'),
      );
  }
}

async function runStarted(
  deps: CaptureDeps,
  capture: CaptureToRun,
  actor: string,
  attempt: { number: number; max: number },
  host: string | undefined,
): Promise<{ status: 'completed'; steps: number }> {
  const captureId = capture.id;
  // The progress read when the run began, kept up to date by each step it records (a step's
  // transaction re-reads it under the capture's lock, so a racing run is still seen there).
  let progress: CaptureProgress = capture.progress;
  // A cited page gets a browser step after its own, unless one is recorded already.
  const browserDue = (target: Target, step: CaptureStep) =>
    deps.browser !== undefined &&
    target.role === 'cited' &&
    step.kind === 'page' &&
    !progress.browser?.some((b) => b.key === browserKey(target.url));
  // With yt-dlp, a page with nothing else to fetch gets a platform step: never its last step.
  const platformMayBeDue = (target: Target, step: CaptureStep) =>
    deps.platform !== undefined &&
    target.role === 'cited' &&
    step.kind === 'page' &&
    !platformDone(progress, target.url);
  try {
    const queue: Target[] = planSource(capture.source, deps.config);
    const steps: CaptureStep[] = [];
    for (let i = 0; i < queue.length; i++) {
      const target = queue[i]!;
      let recorded: { step: CaptureStep; metadata?: Record<string, unknown>; completed?: boolean };
      // Nothing follows the step: its transaction may end the capture too (recordFetch).
      const isLast = async (step: CaptureStep, metadata: Record<string, unknown>) =>
        i === queue.length - 1 &&
        !browserDue(target, step) &&
        !platformMayBeDue(target, step) &&
        (await planFollowUps(deps, target, step, queue, metadata).then(
          (more) => more.length === 0,
          () => false, // a plan error is raised below, after the step is recorded
        ));
      try {
        const done = progress.steps.find((s) => s.url === target.url);
        if (done) recorded = { step: done };
        else {
          const result = await captureTarget(deps, capture, actor, target, i, host, isLast);
          progress = result.progress;
          recorded = result;
        }
      } catch (err) {
        // What a page merely declares is third-party content: its failure is recorded and
        // the capture of the page itself goes on.
        const failure = target.role === 'declared' && describeFailure(err, { number: 1, max: 1 });
        if (!failure) throw err;
        await recordSkippedFetch(deps.pool, { captureId, actor, url: target.url, ...failure });
        continue;
      }
      steps.push(recorded.step);
      if (recorded.completed) return { status: 'completed', steps: steps.length };
      queue.push(...(await planFollowUps(deps, target, recorded.step, queue, recorded.metadata)));
      if (deps.browser && target.role === 'cited' && recorded.step.kind === 'page') {
        const rendered = await browserStep(deps, deps.browser, capture, actor, target.url, progress, attempt);
        progress = rendered.progress;
        if (rendered.domEvidenceId)
          queue.push(...(await planRenderedFollowUps(deps, rendered.domEvidenceId, queue)));
      }
      // What the page queued after itself (declared and rendered media) decides (platform-hosts.ts).
      if (
        deps.platform &&
        platformMayBeDue(target, recorded.step) &&
        platformStepDue(target.url, queue.length - i - 1)
      )
        progress = await platformStep(deps, deps.platform, capture, actor, target.url, progress, attempt);
    }
    await completeCapture(deps.pool, {
      captureId,
      actor,
      progress,
      matchDistance: deps.config.PDQ_MATCH_DISTANCE,
    });
    return { status: 'completed', steps: steps.length };
  } catch (err) {
    if (err instanceof HostBusy) throw err; // nothing failed: the job waits for the host
    const failure = describeFailure(err, attempt);
    if (!failure) throw err;
    await failCapture(deps.pool, { captureId, actor, failure });
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

/** Fetches, describes and records one target the capture has not recorded yet. */
async function captureTarget(
  deps: CaptureDeps,
  capture: CaptureToRun,
  actor: string,
  target: Target,
  index: number,
  host: string | undefined,
  isLast: (step: CaptureStep, metadata: Record<string, unknown>) => Promise<boolean>,
) {
  const lease = await otherHostSlot(deps, capture.id, host, target);
  try {
    return await fetchAndRecord(deps, capture, actor, target, index, isLast);
  } finally {
    await lease?.release().catch(() => {}); // it expires on its own
  }
}

async function fetchAndRecord(
  deps: CaptureDeps,
  capture: CaptureToRun,
  actor: string,
  target: Target,
  index: number,
  isLast: (step: CaptureStep, metadata: Record<string, unknown>) => Promise<boolean>,
) {
  const fetchTarget = target.role === 'post_metadata' ? fetchPostRecord : fetchToStore;
  const fetched = await fetchTarget(deps.fetcher, deps.blobs, target.url, {
    maxBytes: deps.config.FETCH_MAX_BYTES,
    tmpKey: `${capture.id}-${index}`,
    accept: target.accept,
  });
  return recordFetch(deps.pool, {
    captureId: capture.id,
    sourceId: capture.sourceId,
    sourceHeldEvidence: capture.sourceHeldEvidence,
    actor,
    fetched,
    isLast,
    matchDistance: deps.config.PDQ_MATCH_DISTANCE,
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

/**
 * The page as a browser sees it (issue 14): screenshot, rendered DOM and WACZ, recorded with
 * `browser_captured` in one transaction (capture-steps.ts). No browser, a permanent error, or
 * the last attempt's error is recorded as `browser_capture_failed` and the page capture goes
 * on; an error another attempt may heal is thrown (the job is retried and resumes here).
 */
async function browserStep(
  deps: CaptureDeps,
  browser: BrowserCaptureDeps,
  capture: CaptureToRun,
  actor: string,
  url: string,
  progress: CaptureProgress,
  attempt: { number: number; max: number },
): Promise<{ progress: CaptureProgress; domEvidenceId: string | null }> {
  const done = progress.browser?.find((b) => b.key === browserKey(url));
  if (done) return { progress, domEvidenceId: done.domEvidenceId };
  let result: BrowserCaptureResult;
  try {
    // Named after the capture: a retry replaces the partial files of a crashed run.
    result = await captureWithBrowser(browser, url, { tmpKey: capture.id });
  } catch (err) {
    if (!(err instanceof BrowserCaptureError)) throw err;
    if (!err.permanent && attempt.number < attempt.max) throw err;
    deps.log.warn({ captureId: capture.id, code: err.code, detail: err.detail }, 'browser step given up');
    const next = await recordBrowserFailure(deps.pool, {
      captureId: capture.id,
      actor,
      url,
      code: err.code,
      detail: err.detail,
    });
    return { progress: next, domEvidenceId: null };
  }
  const items = await describeBrowserOutputs(deps, result);
  return recordBrowserCapture(deps.pool, { captureId: capture.id, actor, url, result, items });
}

/** The browser step's three blobs described like any item; the DOM also lists the media its
 * elements show (what planRenderedFollowUps reads); the WACZ keeps its own media type (its
 * bytes sniff as a plain ZIP). */
async function describeBrowserOutputs(
  deps: CaptureDeps,
  result: BrowserCaptureResult,
): Promise<BrowserOutputs<NewItem>> {
  const baseUrl = result.meta.finalUrl;
  const one = (out: StoredOutput, kind: NewItem['kind']) =>
    describe(deps, { sha256: out.sha256, head: out.head, declaredType: null, forcedKind: kind, baseUrl });
  const [screenshot, dom, webArchive] = await Promise.all([
    one(result.screenshot, 'screenshot'),
    one(result.dom, 'dom'),
    one(result.wacz, 'web_archive'),
  ]);
  const shown = await deps.blobs
    .withLocalFile(result.dom.sha256, async (path) => {
      const { bytes } = await readHead(path, DEFAULT_MAX_PAGE_BYTES);
      return renderedMedia(bytes.toString('utf8'), baseUrl);
    })
    .catch(() => []);
  return {
    screenshot,
    dom: {
      ...dom,
      analysis: { ...dom.analysis, metadata: { ...dom.analysis.metadata, renderedMedia: shown } },
    },
    webArchive: { ...webArchive, mediaType: result.wacz.mediaType },
  };
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
  // Only a browser error another attempt may heal reaches here (browserStep records the rest).
  if (err instanceof BrowserCaptureError)
    return { code: `browser_${err.code}`, detail: err.detail, retryable: !err.permanent && !last };
  // Likewise a platform error another attempt may heal (platformStep records the rest).
  if (err instanceof PlatformCaptureError)
    return { code: `platform_${err.code}`, detail: err.detail, retryable: !err.permanent && !last };
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

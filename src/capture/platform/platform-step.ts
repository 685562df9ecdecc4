// The platform step of a capture job (issue 14): after a cited page's own step and its browser
// step, when platform-hosts.ts says so, yt-dlp keeps the page's video and its info JSON; ONE
// transaction records both items (`stored` + `metadata_extracted` each, or the source's item
// of the same bytes), the video as a step of the capture (so it is the primary item the
// citations' declared duration, media type and hash are checked against when the capture
// ends), `platform_captured`, and the progress key `platform:<url>`, so a retry does not run
// yt-dlp again (a crash before the commit leaves blobs, no rows). No video on a page that is
// not a platform's is recorded as the fact it is (`platform_no_video`); a permanent error, or
// the last attempt's error, as `platform_capture_failed`; either way the page capture goes on.
// An error another attempt may heal is thrown (the job is retried and resumes here).
import type pg from 'pg';
import { writeWithEvents } from '../../db/sql-change.ts';
import { writeTransaction } from '../../db/unit-of-work.ts';
import { escapeUnstorableJson } from '../../lib/storable-text.ts';
import { outputItems, recordToolOutcome } from '../capture-steps.ts';
import type { CaptureProgress, CaptureToRun } from '../capture-store.ts';
import { lockCaptureForItems, platformKey, setCaptureProgress } from '../capture-store.ts';
import type { Json } from '../checks.ts';
import { describe, type NewItem } from '../describe.ts';
import type { CaptureDeps } from '../run-capture.ts';
import {
  captureWithYtdlp,
  type PlatformCaptureDeps,
  PlatformCaptureError,
  type PlatformCaptureResult,
} from './capture-with-ytdlp.ts';
import { missingVideoIsFailure } from './platform-hosts.ts';

type PlatformOutputs<T> = { video: T; metadata: T };

export const platformDone = (progress: CaptureProgress, url: string) =>
  progress.platform?.some((p) => p.key === platformKey(url)) ?? false;

export async function platformStep(
  deps: CaptureDeps,
  platform: PlatformCaptureDeps,
  capture: CaptureToRun,
  actor: string,
  url: string,
  progress: CaptureProgress,
  attempt: { number: number; max: number },
): Promise<CaptureProgress> {
  if (platformDone(progress, url)) return progress;
  let result: PlatformCaptureResult;
  try {
    // Named after the capture: a retry replaces the partial files of a crashed run.
    result = await captureWithYtdlp(platform, url, { tmpKey: capture.id });
  } catch (err) {
    if (!(err instanceof PlatformCaptureError)) throw err;
    if (!err.permanent && attempt.number < attempt.max) throw err;
    const outcome = {
      captureId: capture.id,
      actor,
      url,
      detail: err.detail,
      tool: { name: 'yt-dlp', version: platform.ytdlp.version },
    };
    if (err.code === 'no_video' && !missingVideoIsFailure(url)) {
      deps.log.debug({ captureId: capture.id, detail: err.detail }, 'no video on the page');
      return recordPlatformNoVideo(deps.pool, outcome);
    }
    deps.log.warn({ captureId: capture.id, code: err.code, detail: err.detail }, 'platform step given up');
    return recordPlatformFailure(deps.pool, { ...outcome, code: err.code });
  }
  const one = (sha256: string, head: Buffer, forcedKind?: NewItem['kind']) =>
    describe(deps, {
      sha256,
      head,
      declaredType: null,
      ...(forcedKind ? { forcedKind } : {}),
      baseUrl: result.meta.webpageUrl,
    });
  const [video, metadata] = await Promise.all([
    one(result.video.sha256, result.video.head),
    one(result.info.sha256, result.info.head, 'platform_metadata'),
  ]);
  return recordPlatformCapture(deps.pool, {
    captureId: capture.id,
    actor,
    url,
    result,
    items: { video, metadata },
  });
}

/** Records a page's platform step in one transaction (see the top of this file). Idempotent. */
export async function recordPlatformCapture(
  pool: pg.Pool,
  input: {
    captureId: string;
    actor: string;
    url: string;
    result: PlatformCaptureResult;
    items: PlatformOutputs<NewItem>;
  },
): Promise<CaptureProgress> {
  const { captureId, actor, url, result } = input;
  const outputs: PlatformOutputs<{ sha256: string; size: number }> = {
    video: result.video,
    metadata: result.info,
  };
  return writeTransaction(pool, async (tx) => {
    const shas = [outputs.video.sha256, outputs.metadata.sha256];
    const { progress, sourceId, existing } = await lockCaptureForItems(tx, captureId, shas);
    if (platformDone(progress, url)) return progress;
    const { ids, kinds, changes, events } = outputItems({
      captureId,
      actor,
      sourceId,
      originUrl: result.meta.mediaUrl ?? result.meta.webpageUrl,
      outputs,
      items: input.items,
      existing,
    });
    const { meta } = result;
    const videoMeta = (existing.get(outputs.video.sha256)?.metadata ??
      input.items.video.analysis.metadata) as {
      durationSeconds?: unknown;
    } | null;
    const observed = videoMeta?.durationSeconds;
    const data = escapeUnstorableJson({
      captureId,
      url,
      tool: meta.tool,
      extractor: meta.extractor,
      webpageUrl: meta.webpageUrl,
      mediaUrl: meta.mediaUrl,
      formatId: meta.formatId,
      title: meta.title,
      declaredDurationSeconds: meta.declaredDurationSeconds,
      observedDurationSeconds: typeof observed === 'number' && Number.isFinite(observed) ? observed : null,
      timings: meta.timings,
      connections: result.connections as unknown as Record<string, Json>,
      evidenceIds: ids,
    }).value;
    events.push({ subject: { type: 'source', id: sourceId }, type: 'platform_captured', actor, data });
    // The video is a step of the capture (the first media step is the primary item); its URL
    // is where its bytes came from, so a later target of the same URL is not fetched again.
    const stepUrl = meta.mediaUrl ?? platformKey(url);
    const steps = progress.steps.some((s) => s.url === stepUrl)
      ? progress.steps
      : [
          ...progress.steps,
          { url: stepUrl, evidenceId: ids.video, sha256: outputs.video.sha256, kind: kinds.video },
        ];
    const next: CaptureProgress = {
      ...progress,
      steps,
      platform: [...(progress.platform ?? []), { key: platformKey(url), videoEvidenceId: ids.video }],
    };
    changes.push(setCaptureProgress(captureId, next));
    await writeWithEvents(tx, changes, events);
    return next;
  });
}

interface PlatformOutcome {
  captureId: string;
  actor: string;
  url: string;
  detail: string;
  tool: { name: string; version: string };
}

/** Marks a page's platform step done without a video (a retry does not run yt-dlp again). */
const markedWithoutVideo = (url: string) => ({
  given: (p: CaptureProgress) => platformDone(p, url),
  mark: (p: CaptureProgress): CaptureProgress => ({
    ...p,
    platform: [...(p.platform ?? []), { key: platformKey(url), videoEvidenceId: null }],
  }),
});

/** A page's platform step given up: `platform_capture_failed`, once per capture and page. */
export function recordPlatformFailure(
  pool: pg.Pool,
  input: PlatformOutcome & { code: string },
): Promise<CaptureProgress> {
  const { captureId, url, code, detail, tool } = input;
  return recordToolOutcome(pool, {
    captureId,
    actor: input.actor,
    ...markedWithoutVideo(url),
    type: 'platform_capture_failed',
    data: { captureId, url, code, detail, tool },
  });
}

/** yt-dlp found no video on a page that is not a platform's: `platform_no_video`, a fact of
 * the capture and no failure, once per capture and page. */
export function recordPlatformNoVideo(pool: pg.Pool, input: PlatformOutcome): Promise<CaptureProgress> {
  const { captureId, url, detail, tool } = input;
  return recordToolOutcome(pool, {
    captureId,
    actor: input.actor,
    ...markedWithoutVideo(url),
    type: 'platform_no_video',
    data: { captureId, url, detail, tool },
  });
}

// The capture's database side: each transaction records one finished step (evidence row and
// its ledger events, plus the capture's progress) or the capture's end. The capture row is
// locked first, so two runs of one capture (a retry racing a stalled worker) serialize and the
// second sees the first's progress instead of recording the step twice.
import type { PrismaClient } from '../db/prisma.ts';
import { Prisma } from '../db/prisma.ts';
import type { EvidenceKind } from '../generated/prisma/enums.ts';
import { canonicalJson } from '../ledger/canonical.ts';
import { appendEvent, type Tx } from '../ledger/ledger.repository.ts';
import { storableDescription } from '../lib/storable-text.ts';
import { type Check, type Json, runChecks } from './checks.ts';
import type { FetchedContent, FetchedExchange } from './fetch-to-store.ts';

export interface CaptureStep {
  url: string;
  evidenceId: string;
  sha256: string;
  kind: EvidenceKind;
}

export interface CaptureProgress {
  steps: CaptureStep[];
  /** Secondary URLs whose failure is already recorded. */
  skipped?: string[];
}

export const progressOf = (json: Prisma.JsonValue): CaptureProgress => {
  const p = json as { steps?: CaptureStep[]; skipped?: string[] } | null;
  return {
    steps: Array.isArray(p?.steps) ? p.steps : [],
    ...(Array.isArray(p?.skipped) ? { skipped: p.skipped } : {}),
  };
};

const sourceSubject = (id: string) => ({ type: 'source' as const, id });

async function lockCapture(tx: Tx, captureId: string) {
  const rows = await tx.$queryRaw<{ status: string; progress: Prisma.JsonValue; source_id: string }[]>`
    SELECT status::text AS status, progress, source_id FROM captures WHERE id = ${captureId}::uuid FOR UPDATE`;
  const row = rows[0];
  if (!row) throw new Error(`capture ${captureId} vanished`);
  return { status: row.status, progress: progressOf(row.progress), sourceId: row.source_id };
}

export interface Analysis {
  tool: string;
  metadata: Record<string, Prisma.InputJsonValue | null>;
}

export interface NewItem {
  kind: EvidenceKind;
  mediaType: string;
  declaredType: string | null;
  analysis: Analysis;
}

/**
 * Records a fetched URL: `fetched`, and for bytes this source did not hold yet an evidence
 * item with `stored` and `metadata_extracted`. Returns the step (the earlier one when this
 * capture had already recorded the URL).
 */
export async function recordFetch(
  prisma: PrismaClient,
  input: {
    captureId: string;
    actor: string;
    fetched: FetchedContent;
    item: () => Promise<NewItem> | NewItem;
  },
): Promise<CaptureStep> {
  const { captureId, actor, fetched } = input;
  // Describe new content before the transaction (ffprobe may take seconds).
  const cap = await prisma.capture.findUniqueOrThrow({
    where: { id: captureId },
    select: { sourceId: true },
  });
  const existingBefore = await prisma.evidenceItem.findUnique({
    where: { sourceId_sha256: { sourceId: cap.sourceId, sha256: fetched.blob.sha256 } },
    select: { id: true },
  });
  const described = existingBefore ? undefined : await input.item();
  return prisma.$transaction(async (tx) => {
    const { progress, sourceId } = await lockCapture(tx, captureId);
    const done = progress.steps.find((s) => s.url === fetched.url);
    if (done) return done;
    const { blob, ...exchange } = fetched;
    await appendFetched(tx, { captureId, actor, sourceId, exchange: { ...exchange, bytes: blob.size } });
    let step: CaptureStep;
    const existing = await tx.evidenceItem.findUnique({
      where: { sourceId_sha256: { sourceId, sha256: fetched.blob.sha256 } },
      select: { id: true, kind: true },
    });
    if (existing) {
      step = { url: fetched.url, evidenceId: existing.id, sha256: fetched.blob.sha256, kind: existing.kind };
    } else {
      const item = described ?? (await input.item());
      const created = await createEvidence(tx, {
        sourceId,
        captureId,
        actor,
        sha256: fetched.blob.sha256,
        size: fetched.blob.size,
        originUrl: fetched.finalUrl,
        uploadedBy: null,
        ...item,
      });
      step = { url: fetched.url, evidenceId: created.id, sha256: fetched.blob.sha256, kind: item.kind };
    }
    progress.steps.push(step);
    await tx.capture.update({
      where: { id: captureId },
      data: { progress: progress as unknown as Prisma.InputJsonValue },
    });
    return step;
  });
}

/** The `fetched` event of one HTTP exchange (with or without evidence from it). */
async function appendFetched(
  tx: Tx,
  input: { captureId: string; actor: string; sourceId: string; exchange: FetchedExchange },
) {
  const { exchange } = input;
  await appendEvent(tx, {
    subject: sourceSubject(input.sourceId),
    type: 'fetched',
    actor: input.actor,
    data: {
      captureId: input.captureId,
      url: exchange.url,
      finalUrl: exchange.finalUrl,
      status: exchange.status,
      redirects: exchange.redirects,
      headers: exchange.headers,
      remoteAddress: exchange.remoteAddress,
      bytes: exchange.bytes,
    },
  });
}

/** A secondary fetch that failed (once per capture and URL, so retries do not repeat it). */
export async function recordSkippedFetch(
  prisma: PrismaClient,
  input: { captureId: string; actor: string; url: string; code: string; detail: string },
): Promise<void> {
  await prisma.$transaction(async (tx) => {
    const { progress, sourceId } = await lockCapture(tx, input.captureId);
    const skipped = progress.skipped ?? [];
    if (skipped.includes(input.url)) return;
    progress.skipped = [...skipped, input.url];
    await appendEvent(tx, {
      subject: sourceSubject(sourceId),
      type: 'fetch_failed',
      actor: input.actor,
      data: { captureId: input.captureId, url: input.url, code: input.code, detail: input.detail },
    });
    await tx.capture.update({
      where: { id: input.captureId },
      data: { progress: progress as unknown as Prisma.InputJsonValue },
    });
  });
}

/** An evidence row with its `stored` and `metadata_extracted` events (captures and uploads). */
export async function createEvidence(
  tx: Tx,
  described: NewItem & {
    sourceId: string;
    captureId: string | null;
    actor: string;
    sha256: string;
    size: number;
    originUrl: string | null;
    uploadedBy: string | null;
  },
) {
  // The one place descriptions are written: hostile text in them is stored escaped, marked.
  const input = storableDescription(described);
  // One timestamp for the row and its `stored` event: the export projection reads it there.
  const at = new Date();
  const created = await tx.evidenceItem.create({
    data: {
      capturedAt: at,
      sourceId: input.sourceId,
      captureId: input.captureId,
      kind: input.kind,
      mediaType: input.mediaType,
      declaredType: input.declaredType,
      size: BigInt(input.size),
      sha256: input.sha256,
      metadata: input.analysis.metadata as Prisma.InputJsonValue,
      originUrl: input.originUrl,
      uploadedBy: input.uploadedBy,
    },
  });
  await appendEvent(tx, {
    subject: sourceSubject(input.sourceId),
    type: 'stored',
    actor: input.actor,
    data: {
      captureId: input.captureId,
      evidenceId: created.id,
      kind: input.kind,
      sha256: input.sha256,
      size: input.size,
      mediaType: input.mediaType,
      originUrl: input.originUrl,
      declaredType: input.declaredType,
    },
    at,
  });
  await appendEvent(tx, {
    subject: sourceSubject(input.sourceId),
    type: 'metadata_extracted',
    actor: input.actor,
    data: {
      evidenceId: created.id,
      sha256: input.sha256,
      tool: input.analysis.tool,
      metadata: input.analysis.metadata as Record<string, Json>,
    },
  });
  return created;
}

/**
 * Checks declared expectations against one item: events, and the item's row. By default all
 * of the source's citations are checked (the item is new); with `only`, just those
 * expectations (a new citation of content already captured), merged into the item's checks.
 */
export async function recordChecks(
  tx: Tx,
  input: { sourceId: string; evidenceId: string; actor: string; only?: Record<string, unknown> },
): Promise<Check[]> {
  const item = await tx.evidenceItem.findUniqueOrThrow({ where: { id: input.evidenceId } });
  const expectations = input.only
    ? [input.only]
    : (
        await tx.citation.findMany({
          where: { sourceId: input.sourceId },
          select: { expected: true },
          orderBy: { createdAt: 'asc' },
        })
      ).map((c) => c.expected as Record<string, unknown>);
  const checks = runChecks(
    expectations.filter((e) => e && Object.keys(e).length > 0),
    {
      kind: item.kind,
      mediaType: item.mediaType,
      sha256: item.sha256,
      metadata: item.metadata as Record<string, unknown>,
    },
  );
  for (const check of checks) {
    await appendEvent(tx, {
      subject: sourceSubject(input.sourceId),
      type: check.passed ? 'check_passed' : 'check_failed',
      actor: input.actor,
      data: { evidenceId: item.id, check },
    });
  }
  const sameCheck = (a: Check, b: Check) =>
    a.name === b.name && JSON.stringify(a.expected) === JSON.stringify(b.expected);
  const kept = input.only
    ? ((item.checks as unknown as Check[]) ?? []).filter((c) => !checks.some((n) => sameCheck(c, n)))
    : [];
  const all = [...kept, ...checks].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // The item's checks as stored, whole: the ledger alone then tells what they are.
  if (canonicalJson(all) !== canonicalJson(item.checks ?? [])) {
    await appendEvent(tx, {
      subject: sourceSubject(input.sourceId),
      type: 'checks_updated',
      actor: input.actor,
      data: { evidenceId: item.id, checks: all },
    });
  }
  await tx.evidenceItem.update({
    where: { id: item.id },
    data: { checks: all as unknown as Prisma.InputJsonValue },
  });
  return checks;
}

/** The primary item of the source's latest completed capture, if any. */
export async function latestPrimaryItem(tx: Tx, sourceId: string): Promise<string | undefined> {
  const last = await tx.capture.findFirst({
    where: { sourceId, status: 'completed' },
    orderBy: { finishedAt: 'desc' },
    select: { progress: true },
  });
  return last ? primaryStep(progressOf(last.progress).steps)?.evidenceId : undefined;
}

const MEDIA_KINDS: readonly EvidenceKind[] = ['video', 'audio', 'image'];

/** The item a capture is about: its first media item, else the first thing it fetched. */
export function primaryStep(steps: readonly CaptureStep[]): CaptureStep | undefined {
  return steps.find((s) => MEDIA_KINDS.includes(s.kind)) ?? steps[0];
}

/** Ends a capture that fetched everything: checks, `content_changed`, statuses. Idempotent. */
export async function completeCapture(
  prisma: PrismaClient,
  input: { captureId: string; actor: string },
): Promise<{ checks: Check[]; alreadyDone: boolean }> {
  return prisma.$transaction(async (tx) => {
    const { status, progress, sourceId } = await lockCapture(tx, input.captureId);
    if (status === 'completed' || status === 'failed') return { checks: [], alreadyDone: true };
    const primary = primaryStep(progress.steps);
    let checks: Check[] = [];
    if (primary) {
      checks = await recordChecks(tx, { sourceId, evidenceId: primary.evidenceId, actor: input.actor });
      const previous = await tx.capture.findFirst({
        where: { sourceId, status: 'completed', id: { not: input.captureId } },
        orderBy: { finishedAt: 'desc' },
        select: { progress: true },
      });
      const before = previous && primaryStep(progressOf(previous.progress).steps);
      if (before && before.sha256 !== primary.sha256) {
        await appendEvent(tx, {
          subject: sourceSubject(sourceId),
          type: 'content_changed',
          actor: input.actor,
          data: { captureId: input.captureId, previousSha256: before.sha256, sha256: primary.sha256 },
        });
      }
    }
    await tx.capture.update({
      where: { id: input.captureId },
      data: { status: 'completed', finishedAt: new Date() },
    });
    await tx.source.update({ where: { id: sourceId }, data: { status: 'captured', failure: Prisma.DbNull } });
    await appendEvent(tx, {
      subject: sourceSubject(sourceId),
      type: 'capture_completed',
      actor: input.actor,
      data: { captureId: input.captureId },
    });
    return { checks, alreadyDone: false };
  });
}

export interface CaptureFailure {
  code: string;
  detail: string;
  /** Will the job be tried again? */
  retryable: boolean;
  /** The response said the content is gone (404/410, or a platform's "no such post"). */
  goneStatus?: number;
  goneUrl?: string;
  /** The exchange that said so, recorded as `fetched` before the failure (no evidence from it). */
  exchange?: FetchedExchange;
}

/** Records a failed attempt; when it is the last one, the capture (and perhaps source) fail. */
export async function failCapture(
  prisma: PrismaClient,
  input: { captureId: string; actor: string; failure: CaptureFailure },
): Promise<void> {
  const { failure } = input;
  await prisma.$transaction(async (tx) => {
    const { status, sourceId } = await lockCapture(tx, input.captureId);
    if (status === 'completed' || status === 'failed') return;
    // Evidence a capture preserved; a journalist's upload is not one (it made a never-captured
    // source `captured` and reported it `source_gone` on a failed recapture).
    const held = await tx.evidenceItem.count({ where: { sourceId, captureId: { not: null } } });
    if (failure.exchange) {
      await appendFetched(tx, {
        captureId: input.captureId,
        actor: input.actor,
        sourceId,
        exchange: failure.exchange,
      });
    }
    if (failure.goneStatus !== undefined && held > 0) {
      // Deleted posts are exactly what investigators need to prove: say so in the chain.
      await appendEvent(tx, {
        subject: sourceSubject(sourceId),
        type: 'source_gone',
        actor: input.actor,
        data: { captureId: input.captureId, status: failure.goneStatus, url: failure.goneUrl ?? '' },
      });
    }
    await appendEvent(tx, {
      subject: sourceSubject(sourceId),
      type: 'capture_failed',
      actor: input.actor,
      data: {
        captureId: input.captureId,
        code: failure.code,
        detail: failure.detail,
        retryable: failure.retryable,
      },
    });
    if (failure.retryable) return;
    const recorded = { code: failure.code, detail: failure.detail };
    await tx.capture.update({
      where: { id: input.captureId },
      data: { status: 'failed', finishedAt: new Date(), failure: recorded },
    });
    // A source that holds evidence from an earlier capture stays captured; the failure shows.
    await tx.source.update({
      where: { id: sourceId },
      data: { status: held > 0 ? 'captured' : 'failed', failure: recorded },
    });
  });
}

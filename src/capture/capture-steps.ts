// The capture's writes: each records one finished step (evidence row and its ledger events,
// plus the capture's progress) or the capture's start or end, atomically. A step is a
// transaction of two statements — lock the capture and read what the step decides on
// (capture-store.ts), then one statement with every row change and event (src/db/sql-change.ts)
// — and the start is a single autocommitted statement, so a capture of one URL costs a handful
// of round trips, not dozens.
import type pg from 'pg';
import { type SqlChange, writeWithEvents } from '../db/sql-change.ts';
import { type WriteTx, writeStatement, writeTransaction } from '../db/unit-of-work.ts';
import { checkRecord, newEvidence } from '../evidence/evidence-record.ts';
import { type EvidenceInsert, evidenceBySha, insertEvidence } from '../evidence/evidence-store.ts';
import type { EvidenceKind } from '../generated/prisma/enums.ts';
import type { EventType } from '../ledger/event-types.ts';
import type { AppendInput } from '../ledger/ledger.repository.ts';
import { escapeUnstorableJson } from '../lib/storable-text.ts';
import { PDQ_MATCH_DISTANCE } from '../media/pdq.ts';
import { markSourceCapturing, setSourceOutcome } from '../sources/sources-store.ts';
import type { BrowserCaptureResult, StoredOutput } from './browser/capture-with-browser.ts';
import {
  browserKey,
  type CaptureProgress,
  type CaptureStep,
  type CompletionReads,
  endCapture,
  type HeldItem,
  lockCapture,
  lockCaptureForCompletion,
  lockCaptureForFailure,
  lockCaptureForItems,
  lockCaptureForStep,
  setCaptureProgress,
  startCapture,
} from './capture-store.ts';
import { type Check, checkItem, type Json } from './checks.ts';
import type { NewItem } from './describe.ts';
import type { FetchedContent, FetchedExchange } from './fetch-to-store.ts';
import { foundChecks, type PrimaryItem, primaryNearMatches } from './found-checks.ts';

const sourceSubject = (id: string) => ({ type: 'source' as const, id });

const MEDIA_KINDS: readonly EvidenceKind[] = ['video', 'audio', 'image'];

/** The item a capture is about: its first media item, else the first thing it fetched. */
export function primaryStep(steps: readonly CaptureStep[]): CaptureStep | undefined {
  return steps.find((s) => MEDIA_KINDS.includes(s.kind)) ?? steps[0];
}

/** An attempt begins: the capture `running`, the source `capturing`, `fetch_started`. */
export async function markStarted(
  pool: pg.Pool,
  input: { captureId: string; sourceId: string; url: string; actor: string },
): Promise<void> {
  const { captureId, sourceId, url, actor } = input;
  await writeStatement(pool, (tx) =>
    writeWithEvents(
      tx,
      [startCapture(captureId, actor), markSourceCapturing(sourceId)],
      [
        {
          subject: sourceSubject(sourceId),
          type: 'fetch_started',
          actor,
          data: { captureId, url, worker: actor },
        },
      ],
    ),
  );
}

export interface RecordedFetch {
  step: CaptureStep;
  /** The item's metadata, when this call described or read it (what planning follow-ups reads). */
  metadata?: Record<string, unknown>;
  /** The capture's progress after this step. */
  progress: CaptureProgress;
  /** The capture was completed with this step (see recordFetch's `isLast`). */
  completed: boolean;
}

/**
 * Records a fetched URL: `fetched`, and for bytes this source did not hold yet an evidence
 * item with `stored` and `metadata_extracted`. Returns the step (the earlier one when this
 * capture had already recorded the URL). New content is described before the transaction
 * (ffprobe may take seconds); `sourceHeldEvidence: false` (the source held nothing when the
 * capture began) skips looking for an item of the same bytes first.
 * `isLast`: whether nothing follows this step (it must not throw). When nothing follows and
 * the step's item is the capture's primary item, the capture is completed in the same
 * transaction and statement (what completeCapture would write next), so a capture of one URL
 * is one step transaction.
 */
export async function recordFetch(
  pool: pg.Pool,
  input: {
    captureId: string;
    sourceId: string;
    sourceHeldEvidence: boolean;
    actor: string;
    fetched: FetchedContent;
    item: () => Promise<NewItem> | NewItem;
    isLast?: (step: CaptureStep, metadata: Record<string, unknown>) => Promise<boolean> | boolean;
    /** Largest PDQ distance of a `similarTo` match (PDQ_MATCH_DISTANCE by default). */
    matchDistance?: number;
  },
): Promise<RecordedFetch> {
  const { captureId, actor, fetched } = input;
  const { blob, ...exchange } = fetched;
  const known = input.sourceHeldEvidence
    ? await evidenceBySha(poolReader(pool), input.sourceId, blob.sha256)
    : undefined;
  const described = known ? undefined : await input.item();
  return writeTransaction(pool, async (tx) => {
    const locked = await lockCaptureForStep(tx, captureId, blob.sha256, input.isLast !== undefined);
    const { progress, sourceId, existing } = locked;
    const done = progress.steps.find((s) => s.url === fetched.url);
    if (done) return { step: done, progress, completed: false };
    const events: AppendInput<EventType>[] = [
      fetchedEvent({ captureId, actor, sourceId, exchange: { ...exchange, bytes: blob.size } }),
    ];
    const changes: SqlChange[] = [];
    let step: CaptureStep;
    let item: HeldItem;
    let inserted: EvidenceInsert | undefined;
    if (existing) {
      item = existing;
      step = { url: fetched.url, evidenceId: existing.id, sha256: blob.sha256, kind: existing.kind };
    } else {
      const created = newEvidence({
        sourceId,
        captureId,
        actor,
        sha256: blob.sha256,
        size: blob.size,
        originUrl: fetched.finalUrl,
        uploadedBy: null,
        ...(described ?? (await input.item())),
      });
      item = inserted = created.row;
      events.push(...created.events);
      changes.push(...created.changes);
      step = { url: fetched.url, evidenceId: created.row.id, sha256: blob.sha256, kind: created.row.kind };
    }
    const metadata = asObject(item.metadata);
    const next = { ...progress, steps: [...progress.steps, step] };
    const ends =
      locked.completion !== undefined &&
      locked.status === 'running' &&
      primaryStep(next.steps) === step &&
      (await input.isLast?.(step, metadata)) === true;
    if (!ends) changes.push(setCaptureProgress(captureId, next));
    else {
      const reads = locked.completion!;
      const found = await primaryChecks(tx, item, { ...reads, sourceId }, input.matchDistance);
      const end = completion(
        { captureId, actor, sourceId, progress: next, ...reads },
        step,
        { ...item, inserted: inserted !== undefined },
        found,
      );
      changes.push(...end.changes);
      events.push(...end.events);
      // A new item is inserted by this statement: its checks go in with it.
      if (inserted && end.itemChecks) inserted = { ...inserted, checks: end.itemChecks };
    }
    if (inserted) changes.unshift(insertEvidence(inserted));
    await writeWithEvents(tx, changes, events);
    return { step, metadata, progress: next, completed: ends };
  });
}

const asObject = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** Reads outside a transaction, through the WriteTx-shaped functions of the stores. */
const poolReader = (pool: pg.Pool) => ({
  maybe: async <R extends object>(text: string, params?: readonly unknown[]): Promise<R | undefined> => {
    const { rows }: { rows: R[] } = await pool.query<R>(text, params as unknown[]);
    return rows[0];
  },
});

/** The `fetched` event of one HTTP exchange (with or without evidence from it). */
function fetchedEvent(input: {
  captureId: string;
  actor: string;
  sourceId: string;
  exchange: FetchedExchange;
}): AppendInput<'fetched'> {
  const { exchange } = input;
  return {
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
    // Taken now, so it precedes the `stored` event's time as the exchange precedes the item.
    at: new Date(),
  };
}

/** A secondary fetch that failed (once per capture and URL, so retries do not repeat it). */
export async function recordSkippedFetch(
  pool: pg.Pool,
  input: { captureId: string; actor: string; url: string; code: string; detail: string },
): Promise<void> {
  await writeTransaction(pool, async (tx) => {
    const { progress, sourceId } = await lockCapture(tx, input.captureId);
    const skipped = progress.skipped ?? [];
    if (skipped.includes(input.url)) return;
    await writeWithEvents(
      tx,
      [setCaptureProgress(input.captureId, { ...progress, skipped: [...skipped, input.url] })],
      [
        {
          subject: sourceSubject(sourceId),
          type: 'fetch_failed',
          actor: input.actor,
          data: { captureId: input.captureId, url: input.url, code: input.code, detail: input.detail },
        },
      ],
    );
  });
}

/**
 * A tool step's blobs as items: each one the source does not hold yet becomes a new item
 * (inserted with `stored` and `metadata_extracted`), each it holds is referred to by its id.
 */
export function outputItems<K extends string>(input: {
  captureId: string;
  actor: string;
  sourceId: string;
  originUrl: string;
  outputs: Record<K, { sha256: string; size: number }>;
  items: Record<K, NewItem>;
  existing: Map<string, HeldItem>;
}): {
  ids: Record<K, string>;
  kinds: Record<K, EvidenceKind>;
  changes: SqlChange[];
  events: AppendInput<EventType>[];
} {
  const changes: SqlChange[] = [];
  const events: AppendInput<EventType>[] = [];
  const ids = {} as Record<K, string>;
  const kinds = {} as Record<K, EvidenceKind>;
  for (const name of Object.keys(input.outputs) as K[]) {
    const blob = input.outputs[name];
    const held = input.existing.get(blob.sha256);
    if (held) {
      ids[name] = held.id;
      kinds[name] = held.kind;
      continue;
    }
    const created = newEvidence({
      sourceId: input.sourceId,
      captureId: input.captureId,
      actor: input.actor,
      sha256: blob.sha256,
      size: blob.size,
      originUrl: input.originUrl,
      uploadedBy: null,
      ...input.items[name],
    });
    ids[name] = created.row.id;
    kinds[name] = created.row.kind;
    changes.push(insertEvidence(created.row), ...created.changes);
    events.push(...created.events);
  }
  return { ids, kinds, changes, events };
}

/** The three items of a browser step, as the event names them. */
export type BrowserOutputs<T> = { screenshot: T; dom: T; webArchive: T };

/**
 * Records a page's browser step in one transaction: its three items (each with `stored` and
 * `metadata_extracted`, or the source's item of the same bytes), `browser_captured`, and the
 * step's progress key, so a retry does not load the page again. Idempotent: a step this
 * capture already recorded is returned as it was. The blobs are written before; a crash
 * before the commit leaves blobs but no rows.
 */
export async function recordBrowserCapture(
  pool: pg.Pool,
  input: {
    captureId: string;
    actor: string;
    url: string;
    result: BrowserCaptureResult;
    items: BrowserOutputs<NewItem>;
  },
): Promise<{ domEvidenceId: string; progress: CaptureProgress }> {
  const { captureId, actor, url, result } = input;
  const key = browserKey(url);
  const outputs: BrowserOutputs<StoredOutput> = {
    screenshot: result.screenshot,
    dom: result.dom,
    webArchive: result.wacz,
  };
  return writeTransaction(pool, async (tx) => {
    const shas = Object.values(outputs).map((o) => o.sha256);
    const { progress, sourceId, existing } = await lockCaptureForItems(tx, captureId, shas);
    const done = progress.browser?.find((b) => b.key === key);
    if (done) return { domEvidenceId: done.domEvidenceId ?? '', progress };
    const { ids, changes, events } = outputItems({
      captureId,
      actor,
      sourceId,
      originUrl: result.meta.finalUrl,
      outputs,
      items: input.items,
      existing,
    });
    const { meta } = result;
    // Title, URL and user agent come from the page and the browser: stored escaped if need be.
    const data = escapeUnstorableJson({
      captureId,
      url,
      finalUrl: meta.finalUrl,
      status: meta.status,
      title: meta.title,
      browser: meta.browser,
      userAgent: meta.userAgent,
      viewport: meta.viewport,
      settled: meta.settled,
      timings: meta.timings,
      archive: meta.archive,
      connections: result.connections as unknown as Record<string, Json>,
      evidenceIds: ids,
    }).value;
    events.push({ subject: sourceSubject(sourceId), type: 'browser_captured', actor, data });
    const next = { ...progress, browser: [...(progress.browser ?? []), { key, domEvidenceId: ids.dom }] };
    changes.push(setCaptureProgress(captureId, next));
    await writeWithEvents(tx, changes, events);
    return { domEvidenceId: ids.dom, progress: next };
  });
}

/** A page's browser step given up (no browser, a permanent error, or the last attempt's
 * error): `browser_capture_failed`, once per capture and page; the capture goes on. */
export function recordBrowserFailure(
  pool: pg.Pool,
  input: { captureId: string; actor: string; url: string; code: string; detail: string },
): Promise<CaptureProgress> {
  const { captureId, url, code, detail } = input;
  return recordToolOutcome(pool, {
    captureId,
    actor: input.actor,
    given: (p) => p.browser?.some((b) => b.key === browserKey(url)) ?? false,
    mark: (p) => ({ ...p, browser: [...(p.browser ?? []), { key: browserKey(url), domEvidenceId: null }] }),
    type: 'browser_capture_failed',
    data: { captureId, url, code, detail },
  });
}

/**
 * A tool's step of a page that kept nothing (given up, or a platform step that found no video):
 * its event, once per capture and page (`given` finds the step's key in the locked progress,
 * `mark` adds it), so a retry neither repeats the event nor runs the tool again.
 */
export async function recordToolOutcome<
  T extends 'browser_capture_failed' | 'platform_capture_failed' | 'platform_no_video',
>(
  pool: pg.Pool,
  input: {
    captureId: string;
    actor: string;
    given: (progress: CaptureProgress) => boolean;
    mark: (progress: CaptureProgress) => CaptureProgress;
    type: T;
    data: AppendInput<T>['data'];
  },
): Promise<CaptureProgress> {
  return writeTransaction(pool, async (tx) => {
    const { progress, sourceId } = await lockCapture(tx, input.captureId);
    if (input.given(progress)) return progress;
    const next = input.mark(progress);
    const event = {
      subject: sourceSubject(sourceId),
      type: input.type,
      actor: input.actor,
      data: input.data,
    };
    await writeWithEvents(tx, [setCaptureProgress(input.captureId, next)], [event as AppendInput<EventType>]);
    return next;
  });
}

/**
 * What ending a capture writes: checks of its primary item against every citation's
 * expectations, with those the capture `found` (found-checks.ts), `content_changed` when the primary item differs from the previous capture's,
 * statuses, `capture_completed`; with `progress`, the capture's new progress too (one UPDATE of
 * its row: the changes of one statement must not touch a row twice). `item`: the primary item's row; `inserted` when that row is
 * inserted in the same statement (it is then inserted with `itemChecks` instead of updated).
 */
function completion(
  c: CompletionReads & { captureId: string; actor: string; sourceId: string; progress?: CaptureProgress },
  primary: CaptureStep | undefined,
  item: (HeldItem & { inserted: boolean }) | null,
  found: readonly Check[],
): { changes: SqlChange[]; events: AppendInput<EventType>[]; checks: Check[]; itemChecks?: Check[] } {
  const { captureId, actor, sourceId } = c;
  const changes: SqlChange[] = [];
  const events: AppendInput<EventType>[] = [];
  let checks: Check[] = [];
  let itemChecks: Check[] | undefined;
  if (primary && item) {
    const outcome = checkItem(item, c.expectations, false, found);
    checks = outcome.checks;
    itemChecks = outcome.all;
    const record = checkRecord({ sourceId, evidenceId: item.id, actor, existing: !item.inserted }, outcome);
    changes.push(...record.changes);
    events.push(...record.events);
    const before = c.previousProgress && primaryStep(c.previousProgress.steps);
    if (before && before.sha256 !== primary.sha256) {
      events.push({
        subject: sourceSubject(sourceId),
        type: 'content_changed',
        actor,
        data: { captureId, previousSha256: before.sha256, sha256: primary.sha256 },
      });
    }
  }
  changes.push(
    endCapture(captureId, { status: 'completed', at: new Date(), failure: null, progress: c.progress }),
    setSourceOutcome(sourceId, 'captured', null),
  );
  events.push({ subject: sourceSubject(sourceId), type: 'capture_completed', actor, data: { captureId } });
  return { changes, events, checks, itemChecks };
}

/** The checks the capture found for its primary item (found-checks.ts): matches and dates. */
async function primaryChecks(
  tx: WriteTx,
  item: PrimaryItem,
  reads: CompletionReads & { sourceId: string },
  distance = PDQ_MATCH_DISTANCE,
): Promise<Check[]> {
  const near = await primaryNearMatches(tx.client, item, reads, distance);
  return foundChecks(item, reads, near, distance);
}

/** Ends a capture that fetched everything (see completion). Idempotent. `progress`: what the
 * caller holds (its primary item is read with the lock; the locked progress decides). */
export async function completeCapture(
  pool: pg.Pool,
  input: { captureId: string; actor: string; progress?: CaptureProgress; matchDistance?: number },
): Promise<{ checks: Check[]; alreadyDone: boolean }> {
  const guess = input.progress && primaryStep(input.progress.steps);
  return writeTransaction(pool, async (tx) => {
    let locked = await lockCaptureForCompletion(tx, input.captureId, guess?.evidenceId ?? null);
    if (locked.status === 'completed' || locked.status === 'failed') return { checks: [], alreadyDone: true };
    const primary = primaryStep(locked.progress.steps);
    if (primary && primary.evidenceId !== locked.item?.id) {
      // Another run of this capture recorded a step since the caller's progress: read again.
      locked = await lockCaptureForCompletion(tx, input.captureId, primary.evidenceId);
    }
    const { item, sourceId } = locked;
    const found = item
      ? await primaryChecks(tx, item, { ...locked.completion, sourceId }, input.matchDistance)
      : [];
    const end = completion(
      { captureId: input.captureId, actor: input.actor, sourceId, ...locked.completion },
      primary,
      item && { ...item, inserted: false },
      found,
    );
    await writeWithEvents(tx, end.changes, end.events);
    return { checks: end.checks, alreadyDone: false };
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
  pool: pg.Pool,
  input: { captureId: string; actor: string; failure: CaptureFailure },
): Promise<void> {
  const { failure, captureId, actor } = input;
  await writeTransaction(pool, async (tx) => {
    const { status, sourceId, held } = await lockCaptureForFailure(tx, captureId);
    if (status === 'completed' || status === 'failed') return;
    const events: AppendInput<EventType>[] = [];
    if (failure.exchange)
      events.push(fetchedEvent({ captureId, actor, sourceId, exchange: failure.exchange }));
    if (failure.goneStatus !== undefined && held) {
      // Deleted posts are exactly what investigators need to prove: say so in the chain.
      events.push({
        subject: sourceSubject(sourceId),
        type: 'source_gone',
        actor,
        data: { captureId, status: failure.goneStatus, url: failure.goneUrl ?? '' },
      });
    }
    events.push({
      subject: sourceSubject(sourceId),
      type: 'capture_failed',
      actor,
      data: { captureId, code: failure.code, detail: failure.detail, retryable: failure.retryable },
    });
    const changes: SqlChange[] = [];
    if (!failure.retryable) {
      const recorded = { code: failure.code, detail: failure.detail };
      changes.push(
        endCapture(captureId, { status: 'failed', at: new Date(), failure: recorded }),
        // A source that holds evidence from an earlier capture stays captured; the failure shows.
        setSourceOutcome(sourceId, held ? 'captured' : 'failed', recorded),
      );
    }
    await writeWithEvents(tx, changes, events);
  });
}

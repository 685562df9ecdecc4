// Captures' SQL (src/db/unit-of-work.ts): the reads a capture run needs, each one statement,
// and its row changes for src/db/sql-change.ts. A step's transaction locks the capture row
// first (FOR UPDATE), so two runs of one capture (a retry racing a stalled worker) serialize
// and the second sees the first's progress instead of recording the step twice; the lock's
// statement also reads what the step then decides on, so a step is lock+read, one write.
import type pg from 'pg';
import type { Prisma } from '../db/prisma.ts';
import { jsonb, type SqlChange } from '../db/sql-change.ts';
import type { WriteTx } from '../db/unit-of-work.ts';
import type { EvidenceRow } from '../evidence/evidence.view.ts';
import { EVIDENCE_COLUMNS, type EvidenceSqlRow, evidenceRowOf } from '../evidence/evidence-store.ts';
import type { EvidenceKind } from '../generated/prisma/enums.ts';
import type { ClaimDate } from './consistency-checks.ts';

export interface CaptureStep {
  url: string;
  evidenceId: string;
  sha256: string;
  kind: EvidenceKind;
}

/** A page's browser step, recorded (captured, or given up with browser_capture_failed). */
export interface BrowserStep {
  /** `browser:<url>`: a retry finds it and does not load the page again. */
  key: string;
  /** The rendered DOM's item (what follow-ups read); null when the step failed. */
  domEvidenceId: string | null;
}

/** A page's platform step (yt-dlp), recorded (captured, or given up with platform_capture_failed). */
export interface PlatformStep {
  /** `platform:<url>`: a retry finds it and does not run yt-dlp again. */
  key: string;
  /** The video's item (also a step of `steps`); null when the step failed. */
  videoEvidenceId: string | null;
}

export interface CaptureProgress {
  steps: CaptureStep[];
  /** Secondary URLs whose failure is already recorded. */
  skipped?: string[];
  /** Browser steps recorded (issue 14). */
  browser?: BrowserStep[];
  /** Platform steps recorded (issue 14). */
  platform?: PlatformStep[];
}

export const browserKey = (url: string) => `browser:${url}`;
export const platformKey = (url: string) => `platform:${url}`;

export const progressOf = (json: Prisma.JsonValue | unknown): CaptureProgress => {
  const p = json as {
    steps?: CaptureStep[];
    skipped?: string[];
    browser?: BrowserStep[];
    platform?: PlatformStep[];
  } | null;
  return {
    steps: Array.isArray(p?.steps) ? p.steps : [],
    ...(Array.isArray(p?.skipped) ? { skipped: p.skipped } : {}),
    ...(Array.isArray(p?.browser) ? { browser: p.browser } : {}),
    ...(Array.isArray(p?.platform) ? { platform: p.platform } : {}),
  };
};

export type CaptureStatus = 'queued' | 'running' | 'completed' | 'failed';

/** What a capture run starts from: the capture, its source, and whether the source held
 * evidence then (if not, nothing fetched can be an item it already has: no lookup first). */
export interface CaptureToRun {
  id: string;
  status: CaptureStatus;
  progress: CaptureProgress;
  sourceId: string;
  source: { id: string; investigationId: string; url: string; platform: unknown };
  sourceHeldEvidence: boolean;
}

export async function captureToRun(pool: pg.Pool, captureId: string): Promise<CaptureToRun | undefined> {
  const { rows } = await pool.query<{
    status: CaptureStatus;
    progress: unknown;
    sourceId: string;
    investigationId: string;
    url: string;
    platform: unknown;
    held: boolean;
  }>(
    `SELECT c.status::text AS status, c.progress, s.id AS "sourceId", s.investigation_id AS "investigationId",
       s.url, s.platform, EXISTS (SELECT 1 FROM evidence_items e WHERE e.source_id = s.id) AS held
     FROM captures c JOIN sources s ON s.id = c.source_id WHERE c.id = $1::uuid`,
    [captureId],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: captureId,
    status: r.status,
    progress: progressOf(r.progress),
    sourceId: r.sourceId,
    source: { id: r.sourceId, investigationId: r.investigationId, url: r.url, platform: r.platform },
    sourceHeldEvidence: r.held,
  };
}

export interface LockedCapture {
  status: CaptureStatus;
  progress: CaptureProgress;
  sourceId: string;
}

interface LockedRow {
  status: CaptureStatus;
  progress: unknown;
  sourceId: string;
}

const LOCK_COLUMNS = `c.status::text AS status, c.progress, c.source_id AS "sourceId"`;

async function locked<R extends LockedRow>(
  tx: Pick<WriteTx, 'maybe'>,
  captureId: string,
  text: string,
  params: unknown[],
): Promise<R & { progress: CaptureProgress }> {
  const row = await tx.maybe<R>(text, params);
  if (!row) throw new Error(`capture ${captureId} vanished`);
  return { ...row, progress: progressOf(row.progress) };
}

/** Locks the capture. */
export function lockCapture(tx: Pick<WriteTx, 'maybe'>, captureId: string): Promise<LockedCapture> {
  return locked(tx, captureId, `SELECT ${LOCK_COLUMNS} FROM captures c WHERE c.id = $1::uuid FOR UPDATE`, [
    captureId,
  ]);
}

/** What ending a capture reads besides its primary item. */
export interface CompletionReads {
  /** Every expectation the source's citations declare, oldest citation first. */
  expectations: Record<string, unknown>[];
  /** Progress of the source's latest other completed capture (content_changed compares). */
  previousProgress: CaptureProgress | null;
  /** The source's investigation: matches are looked for there only. */
  investigationId: string;
  /** The dates of the claims citing the source (those that have one). */
  claimDates: ClaimDate[];
  /** Items of the capture's recorded steps that state their own date (a post record, a page),
   * with just the metadata that says it. */
  dated: { id: string; kind: string; metadata: Record<string, unknown> }[];
  /** Items of other sources of the investigation with the primary item's bytes. */
  sameBytes: string[];
}

/** Matches of the same bytes read with the lock, at most (consistent with match-checks.ts). */
const SAME_BYTES_READ = 20;

/** What completionOf reads, for the primary item's bytes `sha` (an SQL expression). */
const completionColumns = (sha: string) => `coalesce((SELECT jsonb_agg(ct.expected ORDER BY ct.created_at)
    FROM citations ct WHERE ct.source_id = c.source_id), '[]'::jsonb) AS expectations,
  (SELECT p.progress FROM captures p WHERE p.source_id = c.source_id AND p.status = 'completed'
    AND p.id <> c.id ORDER BY p.finished_at DESC LIMIT 1) AS previous,
  (SELECT s.investigation_id FROM sources s WHERE s.id = c.source_id) AS "investigationId",
  coalesce((SELECT jsonb_agg(jsonb_build_object('claimId', cl.id, 'claimedAt', cl.claimed_at,
      'precision', cl.claimed_at_precision, 'timeZone', cl.claimant_time_zone,
      'toleranceHours', ct.expected->'dateToleranceHours') ORDER BY ct.created_at)
    FROM citations ct JOIN claims cl ON cl.id = ct.claim_id
    WHERE ct.source_id = c.source_id AND cl.claimed_at IS NOT NULL), '[]'::jsonb) AS "claimDates",
  coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'kind', d.kind, 'metadata', jsonb_build_object(
      'createdAt', d.metadata->'createdAt', 'publishedTime', d.metadata->'publishedTime', 'jsonLd', d.metadata->'jsonLd')))
    FROM evidence_items d WHERE d.source_id = c.source_id AND d.kind IN ('post_metadata', 'page')
      AND d.id::text IN (SELECT st->>'evidenceId' FROM jsonb_array_elements(c.progress->'steps') st)), '[]'::jsonb) AS dated,
  coalesce((SELECT jsonb_agg(m.id) FROM (SELECT o.id FROM evidence_items o JOIN sources os ON os.id = o.source_id
      WHERE o.sha256 = ${sha} AND o.source_id <> c.source_id
        AND os.investigation_id = (SELECT s.investigation_id FROM sources s WHERE s.id = c.source_id)
      ORDER BY o.id LIMIT ${SAME_BYTES_READ}) m), '[]'::jsonb) AS "sameBytes"`;

interface CompletionRow {
  expectations: Record<string, unknown>[];
  previous: unknown;
  investigationId: string;
  claimDates: (Omit<ClaimDate, 'toleranceHours'> & { toleranceHours: unknown })[];
  dated: CompletionReads['dated'];
  sameBytes: string[];
}

const completionOf = (r: CompletionRow): CompletionReads => ({
  expectations: r.expectations,
  previousProgress: r.previous === null || r.previous === undefined ? null : progressOf(r.previous),
  investigationId: r.investigationId,
  // jsonb writes a timestamptz with an offset: the checks state it as the API does.
  claimDates: r.claimDates.map(({ toleranceHours, ...d }) => ({
    ...d,
    claimedAt: new Date(d.claimedAt).toISOString(),
    ...(typeof toleranceHours === 'number' ? { toleranceHours } : {}),
  })),
  dated: r.dated,
  sameBytes: r.sameBytes,
});

/** Splits a lock row into the capture and what completing it reads. */
function splitCompletion<R extends CompletionRow>(row: R) {
  const { expectations, previous, investigationId, claimDates, dated, sameBytes, ...rest } = row;
  return {
    rest,
    completion: completionOf({ expectations, previous, investigationId, claimDates, dated, sameBytes }),
  };
}

/** An item of the source these bytes are, as a step reads it. */
export interface HeldItem {
  id: string;
  kind: EvidenceKind;
  mediaType: string;
  sha256: string;
  metadata: unknown;
  checks: unknown;
}

/**
 * Locks the capture and reads the item of these bytes its source already holds, if any; with
 * `completion`, also what ending the capture in the same transaction reads.
 */
export async function lockCaptureForStep(
  tx: Pick<WriteTx, 'maybe'>,
  captureId: string,
  sha256: string,
  completion: boolean,
): Promise<LockedCapture & { existing?: HeldItem; completion?: CompletionReads }> {
  const row = await locked<
    LockedRow & {
      itemId: string | null;
      kind: EvidenceKind | null;
      mediaType: string;
      metadata: unknown;
      checks: unknown;
    } & Partial<CompletionRow>
  >(
    tx,
    captureId,
    `SELECT ${LOCK_COLUMNS}, e.id AS "itemId", e.kind::text AS kind, e.media_type AS "mediaType",
       e.metadata, e.checks${completion ? `, ${completionColumns('$2')}` : ''}
     FROM captures c LEFT JOIN evidence_items e ON e.source_id = c.source_id AND e.sha256 = $2
     WHERE c.id = $1::uuid FOR UPDATE OF c`,
    [captureId, sha256],
  );
  const { rest, completion: reads } = splitCompletion(row as typeof row & CompletionRow);
  const { itemId, kind, mediaType, metadata, checks, ...capture } = rest;
  return {
    ...capture,
    ...(itemId && kind ? { existing: { id: itemId, kind, mediaType, sha256, metadata, checks } } : {}),
    ...(completion ? { completion: reads } : {}),
  };
}

/** Locks the capture and reads the items of these bytes its source already holds, by sha256. */
export async function lockCaptureForItems(
  tx: Pick<WriteTx, 'maybe'>,
  captureId: string,
  sha256s: readonly string[],
): Promise<LockedCapture & { existing: Map<string, HeldItem> }> {
  const row = await locked<LockedRow & { items: (HeldItem & { sha256: string })[] }>(
    tx,
    captureId,
    `SELECT ${LOCK_COLUMNS}, coalesce((SELECT jsonb_agg(jsonb_build_object('id', e.id, 'kind', e.kind,
         'mediaType', e.media_type, 'sha256', e.sha256, 'metadata', e.metadata, 'checks', e.checks))
       FROM evidence_items e WHERE e.source_id = c.source_id AND e.sha256 = ANY($2::text[])), '[]'::jsonb) AS items
     FROM captures c WHERE c.id = $1::uuid FOR UPDATE OF c`,
    [captureId, sha256s],
  );
  const { items, ...capture } = row;
  return { ...capture, existing: new Map(items.map((i) => [i.sha256, i])) };
}

/** Locks the capture and reads whether its source holds evidence a capture preserved. */
export async function lockCaptureForFailure(
  tx: Pick<WriteTx, 'maybe'>,
  captureId: string,
): Promise<LockedCapture & { held: boolean }> {
  // A journalist's upload is not preserved by a capture (it made a never-captured source
  // `captured` and reported it `source_gone` on a failed recapture).
  return locked(
    tx,
    captureId,
    `SELECT ${LOCK_COLUMNS}, EXISTS (SELECT 1 FROM evidence_items e
       WHERE e.source_id = c.source_id AND e.capture_id IS NOT NULL) AS held
     FROM captures c WHERE c.id = $1::uuid FOR UPDATE`,
    [captureId],
  );
}

/**
 * Locks the capture and reads what ending it needs: the item `primaryId` (the caller's guess
 * of the primary item, from the progress it holds; checked against the locked progress) and
 * the CompletionReads.
 */
export async function lockCaptureForCompletion(
  tx: Pick<WriteTx, 'maybe'>,
  captureId: string,
  primaryId: string | null,
): Promise<LockedCapture & { item: EvidenceRow | null; completion: CompletionReads }> {
  const row = await locked<LockedRow & { item: EvidenceSqlRow | null } & CompletionRow>(
    tx,
    captureId,
    `SELECT ${LOCK_COLUMNS},
       (SELECT to_jsonb(i) FROM (SELECT ${EVIDENCE_COLUMNS} FROM evidence_items e WHERE e.id = $2::uuid) i) AS item,
       ${completionColumns('(SELECT e.sha256 FROM evidence_items e WHERE e.id = $2::uuid)')}
     FROM captures c WHERE c.id = $1::uuid FOR UPDATE OF c`,
    [captureId, primaryId],
  );
  const { rest, completion } = splitCompletion(row);
  const { item, ...capture } = rest;
  return {
    ...capture,
    item: item && evidenceRowOf({ ...item, capturedAt: new Date(item.capturedAt) }),
    completion,
  };
}

export const insertCapture =
  (c: { id: string; sourceId: string; reason: string; requestedBy: string | null }): SqlChange =>
  (p) =>
    `INSERT INTO captures (id, source_id, reason, requested_by)
     VALUES (${p(c.id)}::uuid, ${p(c.sourceId)}::uuid, ${p(c.reason)}, ${p(c.requestedBy)}::uuid)`;

/** An attempt begins: started_at keeps the first attempt's time. */
export const startCapture =
  (id: string, worker: string): SqlChange =>
  (p) =>
    `UPDATE captures SET status = 'running', attempts = attempts + 1, worker = ${p(worker)},
       started_at = coalesce(started_at, now())
     WHERE id = ${p(id)}::uuid`;

export const setCaptureProgress =
  (id: string, progress: CaptureProgress): SqlChange =>
  (p) =>
    `UPDATE captures SET progress = ${p(jsonb(progress))}::jsonb WHERE id = ${p(id)}::uuid`;

/** The capture's end; with `progress`, its last step's progress in the same UPDATE. */
export const endCapture =
  (
    id: string,
    end: {
      status: 'completed' | 'failed';
      at: Date;
      failure: { code: string; detail: string } | null;
      progress?: CaptureProgress;
    },
  ): SqlChange =>
  (p) =>
    `UPDATE captures SET status = ${p(end.status)}::"CaptureStatus", finished_at = ${p(end.at)}::timestamptz,
       failure = ${p(end.failure === null ? null : jsonb(end.failure))}::jsonb
       ${end.progress ? `, progress = ${p(jsonb(end.progress))}::jsonb` : ''}
     WHERE id = ${p(id)}::uuid`;

/**
 * Captured sources whose latest capture is older than their recapture interval (their own,
 * else `everySeconds`; 0 = none), with no capture waiting or running: at most `limit`, or just
 * `only` when given (the re-check under the source's lock).
 */
export async function dueRecaptures(
  db: pg.Pool | pg.ClientBase,
  q: { everySeconds: number; limit: number; only?: string },
): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT s.id FROM sources s
     WHERE s.status = 'captured'
       AND ($3::uuid IS NULL OR s.id = $3::uuid)
       AND coalesce(s.recapture_every_seconds, nullif($1::int, 0)) IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM captures c WHERE c.source_id = s.id AND c.status IN ('queued', 'running'))
       AND (SELECT max(c.requested_at) FROM captures c WHERE c.source_id = s.id)
           < now() - make_interval(secs => coalesce(s.recapture_every_seconds, $1::int))
     ORDER BY s.id LIMIT $2`,
    [q.everySeconds, q.limit, q.only ?? null],
  );
  return rows.map((r) => r.id);
}

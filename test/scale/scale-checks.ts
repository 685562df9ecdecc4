// What must hold after the scale run, read from the database as an auditor would (the chain of
// custody and the Merkle log, not the services' own counters): each cited source captured
// exactly once for its one capture request, each item stored once, the log gapless and
// complete. The CLI checks (ledger verify, verify-export, blobs check) are run by scale-run.ts.
import type pg from 'pg';
import { expectedStored, type SourceKind } from './scale-sources.ts';

export interface SourceTally {
  sourceId: string;
  url: string;
  kind: SourceKind;
  status: string;
  captures: number;
  completedCaptures: number;
  requestedEvents: number;
  completedEvents: number;
  storedEvents: number;
  /** Distinct hashes among the `stored` events (fewer than storedEvents: the same bytes twice). */
  storedHashes: number;
  items: number;
}

export interface LogTally {
  events: number;
  entries: number;
  firstIndex: number | null;
  lastIndex: number | null;
  pending: number;
  /** Events with no leaf in the log. */
  missing: number;
  checkpointSize: number;
}

/** Every source of the investigation with its captures, events and items counted. */
export async function tallySources(
  pool: pg.Pool,
  investigationId: string,
  kindOfUrl: (url: string) => SourceKind,
): Promise<SourceTally[]> {
  const { rows } = await pool.query<{
    id: string;
    url: string;
    status: string;
    captures: number;
    completed: number;
    requested_events: number;
    completed_events: number;
    stored_events: number;
    stored_hashes: number;
    items: number;
  }>(
    `SELECT s.id, s.url, s.status::text AS status,
       (SELECT count(*)::int FROM captures c WHERE c.source_id = s.id) AS captures,
       (SELECT count(*)::int FROM captures c WHERE c.source_id = s.id AND c.status = 'completed') AS completed,
       (SELECT count(*)::int FROM evidence_items i WHERE i.source_id = s.id) AS items,
       count(*) FILTER (WHERE e.type = 'capture_requested')::int AS requested_events,
       count(*) FILTER (WHERE e.type = 'capture_completed')::int AS completed_events,
       count(*) FILTER (WHERE e.type = 'stored')::int AS stored_events,
       count(DISTINCT (e.body::jsonb -> 'data' ->> 'sha256')) FILTER (WHERE e.type = 'stored')::int AS stored_hashes
     FROM sources s
     LEFT JOIN ledger_events e ON e.subject_type = 'source' AND e.subject_id = s.id::text
     WHERE s.investigation_id = $1
     GROUP BY s.id`,
    [investigationId],
  );
  return rows.map((r) => ({
    sourceId: r.id,
    url: r.url,
    kind: kindOfUrl(r.url),
    status: r.status,
    captures: r.captures,
    completedCaptures: r.completed,
    requestedEvents: r.requested_events,
    completedEvents: r.completed_events,
    storedEvents: r.stored_events,
    storedHashes: r.stored_hashes,
    items: r.items,
  }));
}

/** One line per source that was not captured exactly once, with exactly its items stored once. */
export function sourceProblems(tallies: readonly SourceTally[]): string[] {
  const problems: string[] = [];
  for (const t of tallies) {
    const want = expectedStored[t.kind];
    const wrong: string[] = [];
    if (t.status !== 'captured') wrong.push(`status ${t.status}`);
    if (t.captures !== 1 || t.completedCaptures !== 1)
      wrong.push(`${t.captures} capture(s), ${t.completedCaptures} completed`);
    if (t.requestedEvents !== 1) wrong.push(`${t.requestedEvents} capture_requested`);
    if (t.completedEvents !== 1) wrong.push(`${t.completedEvents} capture_completed`);
    if (t.storedEvents !== want) wrong.push(`${t.storedEvents} stored (want ${want})`);
    if (t.storedHashes !== t.storedEvents) wrong.push(`${t.storedEvents - t.storedHashes} duplicate stored`);
    if (t.items !== want) wrong.push(`${t.items} evidence items (want ${want})`);
    if (wrong.length > 0) problems.push(`${t.kind} ${t.url} (source ${t.sourceId}): ${wrong.join(', ')}`);
  }
  return problems;
}

/** Evidence items named by more than one `stored` event, anywhere in the ledger. */
export async function duplicateStored(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ evidence: string; n: number }>(
    `SELECT e.body::jsonb -> 'data' ->> 'evidenceId' AS evidence, count(*)::int AS n
     FROM ledger_events e WHERE e.type = 'stored'
     GROUP BY 1 HAVING count(*) > 1`,
  );
  return rows.map((r) => `evidence ${r.evidence}: ${r.n} stored events`);
}

export async function tallyLog(pool: pg.Pool): Promise<LogTally> {
  const { rows } = await pool.query<{
    events: string;
    entries: string;
    first: string | null;
    last: string | null;
    pending: string;
    missing: string;
    checkpoint: string | null;
  }>(
    `SELECT (SELECT count(*) FROM ledger_events) AS events,
       (SELECT count(*) FROM log_entries) AS entries,
       (SELECT min(log_index) FROM log_entries) AS first,
       (SELECT max(log_index) FROM log_entries) AS last,
       (SELECT count(*) FROM log_pending) AS pending,
       (SELECT count(*) FROM ledger_events e
          WHERE NOT EXISTS (SELECT 1 FROM log_entries l WHERE l.event_id = e.id)) AS missing,
       (SELECT max(size) FROM log_checkpoints) AS checkpoint`,
  );
  const r = rows[0]!;
  const n = (v: string | null) => (v === null ? null : Number(v));
  return {
    events: Number(r.events),
    entries: Number(r.entries),
    firstIndex: n(r.first),
    lastIndex: n(r.last),
    pending: Number(r.pending),
    missing: Number(r.missing),
    checkpointSize: Number(r.checkpoint ?? 0),
  };
}

/** The log holds every event once at indexes 0..n-1, nothing pending, signed at size n. */
export function logProblems(log: LogTally): string[] {
  const problems: string[] = [];
  if (log.pending !== 0) problems.push(`${log.pending} events still pending`);
  if (log.missing !== 0) problems.push(`${log.missing} events not in the log`);
  if (log.entries !== log.events) problems.push(`${log.entries} log entries for ${log.events} events`);
  if (log.entries > 0 && (log.firstIndex !== 0 || log.lastIndex !== log.entries - 1))
    problems.push(`log indexes ${log.firstIndex}..${log.lastIndex} for ${log.entries} entries (a gap)`);
  if (log.checkpointSize !== log.entries)
    problems.push(`latest checkpoint signs size ${log.checkpointSize}, the log holds ${log.entries}`);
  return problems;
}

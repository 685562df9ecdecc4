// Exports' SQL on the write path (src/db/unit-of-work.ts). A change that has a ledger event
// (the request, completion, failure) runs in the caller's transaction; the build's own
// bookkeeping without an event (running, progress) is one autocommitted statement on the pool.
// Rows are shaped like Prisma's `Export`, so the views serve rows read either way.
import type pg from 'pg';
import { newId } from '../db/ids.ts';
import type { Prisma } from '../db/prisma.ts';
import type { WriteTx } from '../db/unit-of-work.ts';
import type { SubjectHead } from './export-scope.ts';

export type ExportRow = Prisma.ExportGetPayload<object>;

// pg returns int8 as a string: `size` is converted to the bigint Prisma's type says.
type RawExportRow = Omit<ExportRow, 'size'> & { size: string | null };
const EXPORT_COLUMNS = `id, requested_by AS "requestedBy", investigation_id AS "investigationId",
  claim_id AS "claimId", format::text AS format, include_content AS "includeContent",
  status::text AS status, progress, sha256, size, error, created_at AS "createdAt",
  started_at AS "startedAt", completed_at AS "completedAt"`;
const exportRow = (r: RawExportRow): ExportRow => ({ ...r, size: r.size === null ? null : BigInt(r.size) });

/** One export, read on the pool (the build reads nothing through Prisma: export-scope.ts). */
export async function readExport(pool: pg.Pool, id: string): Promise<ExportRow | undefined> {
  const { rows } = await pool.query<RawExportRow>(
    `SELECT ${EXPORT_COLUMNS} FROM exports WHERE id = $1::uuid`,
    [id],
  );
  return rows[0] && exportRow(rows[0]);
}

/** Ids of exports `queued` since before `cutoff` (by request) or `running` since before it (by
 * start), for the export sweep; on the pool like the build's own reads. */
export async function staleExports(
  pool: pg.Pool,
  status: 'queued' | 'running',
  cutoff: Date,
  limit: number,
): Promise<string[]> {
  const since = status === 'queued' ? 'created_at' : 'started_at';
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id FROM exports WHERE status = $1::"ExportStatus" AND ${since} < $2 LIMIT $3`,
    [status, cutoff, limit],
  );
  return rows.map((r) => r.id);
}

export interface NewExport {
  requestedBy: string;
  investigationId: string;
  claimId: string | null;
  format: ExportRow['format'];
  includeContent: boolean;
  at: Date;
}

export async function insertExport(tx: WriteTx, e: NewExport): Promise<ExportRow> {
  return exportRow(
    await tx.one<RawExportRow>(
      `INSERT INTO exports (id, requested_by, investigation_id, claim_id, format, include_content, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING ${EXPORT_COLUMNS}`,
      [newId(), e.requestedBy, e.investigationId, e.claimId, e.format, e.includeContent, e.at],
    ),
  );
}

/** A build starts (or starts again): `running` from 0, keeping the first start time. False
 * when the export has ended meanwhile. */
export async function markExportRunning(pool: pg.Pool, id: string, at: Date): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE exports SET status = 'running', started_at = coalesce(started_at, $2), progress = 0
     WHERE id = $1 AND status IN ('queued', 'running')`,
    [id, at],
  );
  return rowCount === 1;
}

/** The build's progress; only while it runs, so a late write never follows completion's 1. */
export async function setExportProgress(pool: pg.Pool, id: string, progress: number): Promise<void> {
  await pool.query(`UPDATE exports SET progress = $2 WHERE id = $1 AND status = 'running'`, [id, progress]);
}

/** Records the built file; false when the export had already ended (nothing written). */
export async function completeExportRow(
  tx: WriteTx,
  c: { id: string; sha256: string; size: number; at: Date },
): Promise<boolean> {
  const n = await tx.exec(
    `UPDATE exports SET status = 'completed', progress = 1, sha256 = $2, size = $3, completed_at = $4
     WHERE id = $1 AND status NOT IN ('completed', 'failed')`,
    [c.id, c.sha256, c.size, c.at],
  );
  return n === 1;
}

/** Records the failure; false when the export had already ended (nothing written). */
export async function failExportRow(
  tx: WriteTx,
  f: { id: string; error: string; at: Date },
): Promise<boolean> {
  const n = await tx.exec(
    `UPDATE exports SET status = 'failed', error = $2, completed_at = $3
     WHERE id = $1 AND status NOT IN ('completed', 'failed')`,
    [f.id, f.error, f.at],
  );
  return n === 1;
}

/** The export's `export_scope` record, if a build already wrote one. */
export function recordedScope(
  tx: WriteTx,
  exportId: string,
): Promise<{ seq: number; hash: string; data: { subjects: SubjectHead[] } } | undefined> {
  return tx.maybe(
    `SELECT seq, encode(hash, 'hex') AS hash, (body::jsonb) -> 'data' AS data
       FROM ledger_events
      WHERE subject_type = 'export' AND subject_id = $1 AND type = 'export_scope'
      ORDER BY seq LIMIT 1`,
    [exportId],
  );
}

/** When export_requested says the export was asked for: export.json's createdAt, which the
 * verifier holds to that event. */
export async function requestedAt(pool: pg.Pool, exportId: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ at: string }>(
    `SELECT (body::jsonb) ->> 'at' AS at FROM ledger_events
      WHERE subject_type = 'export' AND subject_id = $1 AND type = 'export_requested'
      ORDER BY seq LIMIT 1`,
    [exportId],
  );
  return rows[0]?.at;
}

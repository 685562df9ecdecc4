// What an export holds: the ledger subjects whose chains go in — the claims in scope, the
// sources they cite, the investigation — each fixed at its length when the export starts, so
// events appended meanwhile do not half-appear.

import type pg from 'pg';
import type { Subject } from '../ledger/event-types.ts';

export interface ExportScope {
  claimId?: string;
  investigationId: string;
}

export interface SubjectHead extends Subject {
  length: number;
  headHash: string | null;
}

/**
 * The chains an export holds (claims in scope, the sources they cite or the investigation's,
 * each at its current length) and, for progress only, the size of the distinct content. What
 * export.json states about them is folded from the chains themselves (ledger-view.ts).
 * Read on the pg pool, as the rest of the build: a process that builds exports never loads
 * Prisma's query engine for them (~50 MiB of its RSS; README, "Where a write goes").
 */
export async function gatherScope(pool: pg.Pool, scope: ExportScope) {
  const ids = async (text: string, params: unknown[]) =>
    (await pool.query<{ id: string }>(text, params)).rows.map((r) => r.id);
  const claimIds = scope.claimId
    ? await ids('SELECT id FROM claims WHERE id = $1::uuid', [scope.claimId])
    : await ids('SELECT id FROM claims WHERE investigation_id = $1::uuid ORDER BY id', [
        scope.investigationId,
      ]);
  const sourceIds = scope.claimId
    ? await ids(
        `SELECT s.id FROM sources s
          WHERE s.id IN (SELECT source_id FROM citations WHERE claim_id = ANY($1::uuid[]))
          ORDER BY s.id`,
        [claimIds],
      )
    : await ids('SELECT id FROM sources WHERE investigation_id = $1::uuid ORDER BY id', [
        scope.investigationId,
      ]);
  const { rows: content } = await pool.query<{ items: number; bytes: string }>(
    `SELECT count(*)::int AS items, coalesce(sum(size), 0)::text AS bytes
       FROM (SELECT DISTINCT ON (sha256) size FROM evidence_items WHERE source_id = ANY($1::uuid[])) c`,
    [sourceIds],
  );
  const subjects: Subject[] = [
    ...(scope.claimId ? [] : [{ type: 'investigation' as const, id: scope.investigationId }]),
    ...claimIds.map((id) => ({ type: 'claim' as const, id })),
    ...sourceIds.map((id) => ({ type: 'source' as const, id })),
  ];
  return {
    subjects: await subjectHeads(pool, subjects),
    evidenceCount: content[0]?.items ?? 0,
    contentBytes: Number(content[0]?.bytes ?? 0),
  };
}
export type GatheredScope = Awaited<ReturnType<typeof gatherScope>>;

async function subjectHeads(pool: pg.Pool, subjects: Subject[]): Promise<SubjectHead[]> {
  const { rows } = await pool.query<{ subject_type: string; subject_id: string; seq: number; hash: string }>(
    `SELECT DISTINCT ON (subject_type, subject_id) subject_type, subject_id, seq, encode(hash, 'hex') AS hash
       FROM ledger_events
      WHERE (subject_type, subject_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
      ORDER BY subject_type, subject_id, seq DESC`,
    [subjects.map((s) => s.type), subjects.map((s) => s.id)],
  );
  const byKey = new Map(rows.map((r) => [`${r.subject_type}/${r.subject_id}`, r]));
  return subjects
    .map((s) => {
      const r = byKey.get(`${s.type}/${s.id}`);
      return { ...s, length: r?.seq ?? 0, headHash: r?.hash ?? null };
    })
    .filter((s) => s.length > 0);
}

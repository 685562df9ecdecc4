// The exported subjects' chains read back from the ledger, streamed in (subject, seq) order:
// the exact canonical bodies for the JSON-lines files, and (hash, log index) for the proofs.
import type pg from 'pg';
import { streamRows } from '../db/cursor.ts';
import type { SubjectHead } from './export-scope.ts';

export interface LedgerRow {
  subject_type: string;
  subject_id: string;
  seq: number;
  type: string;
  body: string;
  hash: string;
  log_index: string | null;
}

const SCOPE_SQL = `
  FROM ledger_events e
  JOIN unnest($1::text[], $2::text[], $3::int[]) WITH ORDINALITY AS s(t, i, n, ord)
    ON e.subject_type = s.t AND e.subject_id = s.i AND e.seq <= s.n`;

const params = (subjects: readonly SubjectHead[]) => [
  subjects.map((s) => s.type),
  subjects.map((s) => s.id),
  subjects.map((s) => s.length),
];

/** Rows of the exported chains, a batch at a time, subjects in the order given (export.json's,
 * which the verifier pairs proofs by), then seq. */
export function streamLedger(pool: pg.Pool, subjects: readonly SubjectHead[]): AsyncGenerator<LedgerRow[]> {
  return streamRows<LedgerRow>(
    pool,
    `SELECT e.subject_type, e.subject_id, e.seq, e.type, e.body, encode(e.hash, 'hex') AS hash, le.log_index::text AS log_index
     ${SCOPE_SQL}
     LEFT JOIN log_entries le ON le.event_id = e.id
     ORDER BY s.ord, e.seq`,
    params(subjects),
    2_000,
  );
}

/** How many exported events the sequencer has not integrated yet. */
export async function unintegratedCount(pool: pg.Pool, subjects: readonly SubjectHead[]): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*)::text AS n ${SCOPE_SQL}
     WHERE NOT EXISTS (SELECT 1 FROM log_entries le WHERE le.event_id = e.id)`,
    params(subjects),
  );
  return Number(rows[0]!.n);
}

/** Groups a subject-then-seq ordered row stream into one async iterable per subject. */
export async function* bySubject(
  batches: AsyncIterable<LedgerRow[]>,
): AsyncGenerator<{ type: string; id: string; rows: AsyncIterable<LedgerRow> }> {
  const it = batches[Symbol.asyncIterator]();
  let buffer: LedgerRow[] = [];
  let pos = 0;
  let done = false;
  const peek = async (): Promise<LedgerRow | undefined> => {
    while (pos >= buffer.length && !done) {
      const next = await it.next();
      if (next.done) done = true;
      else {
        buffer = next.value;
        pos = 0;
      }
    }
    return pos < buffer.length ? buffer[pos] : undefined;
  };
  for (;;) {
    const first = await peek();
    if (!first) return;
    const { subject_type: type, subject_id: id } = first;
    async function* rows() {
      for (;;) {
        const r = await peek();
        if (!r || r.subject_type !== type || r.subject_id !== id) return;
        pos++;
        yield r;
      }
    }
    yield { type, id, rows: rows() };
    // Skip whatever the consumer did not read of this subject.
    for (let r = await peek(); r && r.subject_type === type && r.subject_id === id; r = await peek()) pos++;
  }
}

// Ledger fixtures: events appended through the real append path, and a bulk variant that
// builds valid chains with the same sealing code and inserts them in one statement (for tests
// that need tens of thousands of events quickly).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { writeTransaction } from '../../src/db/unit-of-work.ts';
import { type EventBody, sealBody } from '../../src/ledger/canonical.ts';
import type { Subject } from '../../src/ledger/event-types.ts';
import { appendEvent } from '../../src/ledger/ledger.repository.ts';

export const newSubject = (type: Subject['type'] = 'user'): Subject => ({ type, id: randomUUID() });

/** Appends `n` user_tokens_revoked events to a user subject through appendEvent. */
export async function appendMany(pool: pg.Pool, subject: Subject, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await writeTransaction(pool, (tx) =>
        appendEvent(tx, { subject, type: 'user_tokens_revoked', actor: 'system:test', data: { revoked: i } }),
      ),
    );
  }
  return out;
}

/** Inserts `perSubject` valid events for each of `subjects` new user subjects, all pending. */
export async function bulkInsertChains(pool: pg.Pool, subjects: number, perSubject: number): Promise<number> {
  const rows: {
    st: string;
    sid: string;
    seq: number;
    prev: string | null;
    hash: string;
    type: string;
    body: string;
  }[] = [];
  for (let s = 0; s < subjects; s++) {
    const subject = newSubject('user');
    let prev: string | null = null;
    for (let seq = 1; seq <= perSubject; seq++) {
      const body: EventBody = {
        subject,
        seq,
        prev,
        type: 'user_tokens_revoked',
        actor: 'system:bulk',
        at: new Date().toISOString(),
        data: { revoked: seq },
      };
      const { canonical, hash } = sealBody(body);
      rows.push({ st: subject.type, sid: subject.id, seq, prev, hash, type: body.type, body: canonical });
      prev = hash;
    }
  }
  for (let i = 0; i < rows.length; i += 10_000) {
    const chunk = rows.slice(i, i + 10_000);
    await pool.query(
      `WITH e AS (
         INSERT INTO ledger_events (subject_type, subject_id, seq, prev, hash, type, body)
         SELECT st, sid, seq, decode(prev, 'hex'), decode(hash, 'hex'), type, body
         FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[])
           AS t(st, sid, seq, prev, hash, type, body)
         RETURNING id)
       INSERT INTO log_pending (event_id) SELECT id FROM e`,
      [
        chunk.map((r) => r.st),
        chunk.map((r) => r.sid),
        chunk.map((r) => r.seq),
        chunk.map((r) => r.prev),
        chunk.map((r) => r.hash),
        chunk.map((r) => r.type),
        chunk.map((r) => r.body),
      ],
    );
  }
  return rows.length;
}

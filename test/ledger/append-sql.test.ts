// The append assembled in SQL (ledger_append) against the pure JavaScript canonicalization:
// over a corpus of awkward JSON, the stored body's bytes and hash must be exactly those of
// canonicalJson(body) and sha256 of it, whether appendEvent runs in a unit of work
// or on a plain pg client, and the chain it builds must verify.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { writeTransaction } from '../../src/db/unit-of-work.ts';
import { bodyFrame, canonicalJson, type EventBody, sha256Hex } from '../../src/ledger/canonical.ts';
import { verifyChain } from '../../src/ledger/chain-verify.ts';
import type { Subject } from '../../src/ledger/event-types.ts';
import { appendEvent, readSubjectEvents } from '../../src/ledger/ledger.repository.ts';
import { canonicalCorpus } from '../helpers/canonical-corpus.ts';
import { useTestContext } from '../helpers/context.ts';

const ctx = useTestContext();
const corpus = Object.entries(canonicalCorpus);

/** The stored body as bytes (UTF-8, as the server holds it) and its stored hash. */
async function stored(subject: Subject, db: Pick<pg.ClientBase, 'query'> = ctx.pool) {
  const { rows } = await db.query<{ seq: number; bytes: Buffer; hash: string; prev: string | null }>(
    `SELECT seq, convert_to(body, 'UTF8') AS bytes, encode(hash, 'hex') AS hash, encode(prev, 'hex') AS prev
     FROM ledger_events WHERE subject_type = $1 AND subject_id = $2 ORDER BY seq`,
    [subject.type, subject.id],
  );
  return rows;
}

function expectCanonical(row: { bytes: Buffer; hash: string }, body: EventBody) {
  const js = canonicalJson(body);
  // Bytes, not strings: a difference in normalization or escaping must not hide in decoding.
  expect(row.bytes.equals(Buffer.from(js, 'utf8')), `${row.bytes.toString()}\n≠\n${js}`).toBe(true);
  expect(row.hash).toBe(sha256Hex(js));
}

describe('ledger_append (SQL) builds exactly the RFC 8785 body JavaScript would', () => {
  it.each(corpus)('any data, called directly: %s', async (_, data) => {
    const subject: Subject = { type: 'claim', id: randomUUID() };
    const frame = { subject, type: 'claim_updated', actor: 'user:é😀', at: '2026-12-02T10:00:00.000Z', data };
    const { prefix, suffix } = bodyFrame(frame);
    const client = await ctx.pool.connect();
    try {
      await client.query('BEGIN');
      let prev: string | null = null;
      for (const seq of [1, 2]) {
        const { rows } = await client.query<{ seq: number; prev: string | null; hash: string }>(
          'SELECT seq, prev, hash FROM ledger_append($1, $2, $3, $4, $5)',
          [subject.type, subject.id, frame.type, prefix, suffix],
        );
        expect(rows[0]).toMatchObject({ seq, prev });
        const [row] = await stored(subject, client).then((r) => r.filter((x) => x.seq === seq));
        expectCanonical(row!, { ...frame, seq, prev });
        expect(rows[0]!.hash).toBe(row!.hash);
        prev = row!.hash;
      }
    } finally {
      // Arbitrary data is no valid claim_updated: keep none of it.
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it.each(corpus)('through appendEvent in a unit of work and on a pg client: %s', async (_, value) => {
    const subject: Subject = { type: 'claim', id: randomUUID() };
    const data = {
      before: { value },
      after: typeof value === 'object' && value && !Array.isArray(value) ? value : {},
    };
    const input = { subject, type: 'claim_updated' as const, actor: 'user:x', data: data as never };
    const first = await writeTransaction(ctx.pool, (tx) => appendEvent(tx, input));
    const client = await ctx.pool.connect();
    let second: Awaited<ReturnType<typeof appendEvent>>;
    try {
      await client.query('BEGIN');
      second = await appendEvent(client, input);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const rows = await stored(subject);
    expect(rows.map((r) => [r.seq, r.prev, r.hash])).toEqual([
      [1, null, first.hash],
      [2, first.hash, second.hash],
    ]);
    for (const [i, e] of [first, second].entries()) {
      const { hash, logIndex, ...body } = e;
      expectCanonical(rows[i]!, body);
    }
    const chain = await readSubjectEvents(ctx.prisma, subject);
    expect(verifyChain(subject, chain)).toMatchObject({ valid: true, length: 2, headHash: second.hash });
    const { rows: pending } = await ctx.pool.query(
      `SELECT 1 FROM log_pending p JOIN ledger_events e ON e.id = p.event_id
       WHERE e.subject_type = $1 AND e.subject_id = $2
       UNION ALL SELECT 1 FROM log_entries l JOIN ledger_events e ON e.id = l.event_id
       WHERE e.subject_type = $1 AND e.subject_id = $2`,
      [subject.type, subject.id],
    );
    expect(pending).toHaveLength(2); // each event queued for (or already in) the log, once
  });

  it('appends on a pg client roll back with the caller', async () => {
    const subject: Subject = { type: 'user', id: randomUUID() };
    const client = await ctx.pool.connect();
    try {
      await client.query('BEGIN');
      const e = await appendEvent(client, {
        subject,
        type: 'user_tokens_revoked',
        actor: 'system:test',
        data: { revoked: 1 },
      });
      expect(e.seq).toBe(1);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(await stored(subject)).toEqual([]);
  });
});

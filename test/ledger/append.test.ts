// The append path on the real database: chain shape, the typed catalogue, immutability,
// and 32 concurrent appenders over 8 subjects integrated exactly once.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createContext } from '../../src/context.ts';
import { writeTransaction } from '../../src/db/unit-of-work.ts';
import { canonicalJson, sha256Hex } from '../../src/ledger/canonical.ts';
import { verifyChain } from '../../src/ledger/chain-verify.ts';
import { LedgerProgrammingError } from '../../src/ledger/event-types.ts';
import { appendEvent, readSubjectEvents } from '../../src/ledger/ledger.repository.ts';
import { hashReader, latestCheckpoint } from '../../src/log/log.repository.ts';
import { treeHash } from '../../src/log/merkle.ts';
import { RootBuilder } from '../../src/log/root-builder.ts';
import { startSequencer } from '../../src/processes/sequencer.ts';
import { testConfig, useTestContext } from '../helpers/context.ts';
import { asOwner } from '../helpers/databases.ts';
import { appendMany, newSubject } from '../helpers/ledger-fixtures.ts';
import { useSequencer, waitForIntegration } from '../helpers/sequencer.ts';

const ctx = useTestContext();
await useSequencer(ctx);

describe('appendEvent', () => {
  it('builds a hash chain: seq from 1, prev = previous hash, hash = sha256(JCS body)', async () => {
    const subject = newSubject();
    const events = await appendMany(ctx.pool, subject, 3);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events[0]!.prev).toBeNull();
    expect(events[1]!.prev).toBe(events[0]!.hash);
    expect(events[2]!.prev).toBe(events[1]!.hash);
    for (const e of events) {
      const { hash, logIndex, ...body } = e;
      expect(hash).toBe(sha256Hex(canonicalJson(body)));
      expect(logIndex).toBeNull();
      expect(body.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const stored = await readSubjectEvents(ctx.prisma, subject);
    expect(stored.map((s) => s.hash)).toEqual(events.map((e) => e.hash));
    expect(verifyChain(subject, stored)).toMatchObject({ valid: true, length: 3, headHash: events[2]!.hash });
  });

  it('rejects an unknown type, a subject of the wrong kind and malformed data, storing nothing', async () => {
    const subject = newSubject();
    const attempts = [
      { type: 'no_such_event', data: {} },
      { type: 'claim_updated', data: { before: {}, after: {} } }, // claim event on a user subject
      { type: 'user_tokens_revoked', data: { revoked: -1 } },
      { type: 'user_tokens_revoked', data: { revoked: 1, extra: true } },
    ];
    for (const a of attempts) {
      await expect(
        writeTransaction(ctx.pool, (tx) =>
          // biome-ignore lint/suspicious/noExplicitAny: deliberately ill-typed input
          appendEvent(tx, { subject, type: a.type as any, actor: 'system:test', data: a.data as any }),
        ),
      ).rejects.toBeInstanceOf(LedgerProgrammingError);
    }
    expect(await readSubjectEvents(ctx.prisma, subject)).toHaveLength(0);
  });

  it('rolls back with the caller: an aborted transaction leaves no event and no gap', async () => {
    const subject = newSubject();
    await appendMany(ctx.pool, subject, 1);
    await expect(
      writeTransaction(ctx.pool, async (tx) => {
        await appendEvent(tx, {
          subject,
          type: 'user_tokens_revoked',
          actor: 'system:test',
          data: { revoked: 9 },
        });
        throw new Error('caller fails after appending');
      }),
    ).rejects.toThrow('caller fails');
    const [next] = await appendMany(ctx.pool, subject, 1);
    expect(next!.seq).toBe(2);
  });

  // As the owner: the runtime role is refused before the triggers run (least-privilege.test.ts);
  // the triggers are what stops an owner who has not disabled them.
  it('is append-only: UPDATE, DELETE and TRUNCATE are rejected with a reason, even for the owner', async () => {
    const subject = newSubject();
    await appendMany(ctx.pool, subject, 1);
    await waitForIntegration(ctx); // so that every ledger table has a row to refuse changing
    for (const sql of [
      `UPDATE ledger_events SET type = 'x' WHERE subject_id = '${subject.id}'`,
      `DELETE FROM ledger_events WHERE subject_id = '${subject.id}'`,
      'TRUNCATE ledger_events CASCADE',
      'DELETE FROM log_entries',
      'UPDATE log_hashes SET hash = hash',
      'DELETE FROM log_checkpoints',
      'DELETE FROM log_keys',
      'UPDATE log_keys SET created_at = now()',
      'TRUNCATE log_keys',
    ]) {
      await expect(asOwner(ctx.config.DATABASE_URL, (c) => c.query(sql))).rejects.toThrow(
        /forbidden: the ledger is append-only/,
      );
    }
  });
});

describe('the signing key', () => {
  it('a sequencer with another key refuses to sign this log', async () => {
    await appendMany(ctx.pool, newSubject(), 1);
    await waitForIntegration(ctx);
    const dir = await mkdtemp(join(tmpdir(), 'claimtrail-otherkey-'));
    const other = createContext(testConfig({ LOG_SIGNING_KEY_FILE: join(dir, 'other.key') }));
    try {
      await expect(startSequencer(other)).rejects.toThrow(/did not sign this log's latest checkpoint/);
    } finally {
      await other.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('concurrency', () => {
  it('32 appenders over 8 subjects, 5,000 events: contiguous seq, no fork, integrated exactly once', async () => {
    const subjects = Array.from({ length: 8 }, () => newSubject());
    const total = 5_000;
    let issued = 0;
    const appender = async (worker: number) => {
      while (issued < total) {
        const n = issued++;
        const subject = subjects[(n + worker) % subjects.length]!;
        await writeTransaction(ctx.pool, (tx) =>
          appendEvent(tx, {
            subject,
            type: 'user_tokens_revoked',
            actor: `worker:${worker}`,
            data: { revoked: n },
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: 32 }, (_, w) => appender(w)));
    await waitForIntegration(ctx, 60_000);

    let count = 0;
    const logIndexes = new Set<number>();
    for (const subject of subjects) {
      const events = await readSubjectEvents(ctx.prisma, subject);
      count += events.length;
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(verifyChain(subject, events).valid).toBe(true);
      for (const e of events) {
        expect(e.logIndex).not.toBeNull();
        expect(e.loggedHash).toBe(e.hash);
        logIndexes.add(e.logIndex!);
      }
    }
    expect(count).toBe(total);
    expect(logIndexes.size).toBe(total);

    // The stored tree agrees with an independent recomputation from the leaves.
    const cp = await latestCheckpoint(ctx.pool);
    const { rows } = await ctx.pool.query<{ event_hash: Buffer }>(
      'SELECT event_hash FROM log_entries WHERE log_index < $1 ORDER BY log_index',
      [cp!.size],
    );
    const builder = new RootBuilder();
    for (const r of rows) builder.push(r.event_hash);
    expect(builder.size).toBe(cp!.size);
    expect(builder.root().equals(cp!.rootHash)).toBe(true);
    expect((await treeHash(cp!.size, hashReader(ctx.pool))).equals(cp!.rootHash)).toBe(true);
  }, 180_000);
});

describe('the pending queue', () => {
  it('an integrated event queued again (a log_pending row the runtime role re-inserts) does not stall the log', async () => {
    await appendMany(ctx.pool, newSubject(), 1);
    await waitForIntegration(ctx);
    const { rows } = await ctx.pool.query<{ id: string }>(
      'SELECT event_id::text AS id FROM log_entries ORDER BY log_index DESC LIMIT 1',
    );
    // ctx.pool is the runtime role, which may INSERT into log_pending: alone, then before a new event.
    const requeue = () => ctx.pool.query('INSERT INTO log_pending (event_id) VALUES ($1)', [rows[0]!.id]);
    await requeue();
    await waitForIntegration(ctx);
    await requeue();
    const later = newSubject();
    await appendMany(ctx.pool, later, 1);
    // Before: every batch hit log_entries' unique event_id and rolled back, forever.
    await waitForIntegration(ctx);
    const integrated = await ctx.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM log_entries l JOIN ledger_events e ON e.id = l.event_id
       WHERE e.subject_id = $1`,
      [later.id],
    );
    expect(integrated.rows[0]!.n).toBe(1);
  }, 60_000);
});

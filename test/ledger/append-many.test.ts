// appendEvents: several events in one statement (ledger_append_many), in the order given,
// with exactly the bytes and chain appendEvent would produce one by one.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { writeTransaction } from '../../src/db/unit-of-work.ts';
import { canonicalJson, sha256Hex } from '../../src/ledger/canonical.ts';
import { verifyChain } from '../../src/ledger/chain-verify.ts';
import type { Subject } from '../../src/ledger/event-types.ts';
import { appendEvent, appendEvents, readSubjectEvents } from '../../src/ledger/ledger.repository.ts';
import { canonicalCorpus } from '../helpers/canonical-corpus.ts';
import { useTestContext } from '../helpers/context.ts';

const ctx = useTestContext();

describe('appendEvents', () => {
  it('appends interleaved subjects in order, each chain contiguous and canonical', async () => {
    const a: Subject = { type: 'user', id: randomUUID() };
    const b: Subject = { type: 'user', id: randomUUID() };
    const ev = (subject: Subject, revoked: number) => ({
      subject,
      type: 'user_tokens_revoked' as const,
      actor: 'system:test',
      data: { revoked },
    });
    const first = await writeTransaction(ctx.pool, (tx) => appendEvent(tx, ev(a, 0)));
    const many = await writeTransaction(ctx.pool, (tx) =>
      appendEvents(tx, [ev(a, 1), ev(b, 2), ev(a, 3), ev(b, 4), ev(a, 5)]),
    );
    expect(many.map((e) => [e.subject.id, e.seq])).toEqual([
      [a.id, 2],
      [b.id, 1],
      [a.id, 3],
      [b.id, 2],
      [a.id, 4],
    ]);
    expect(many[0]!.prev).toBe(first.hash);
    expect(many[2]!.prev).toBe(many[0]!.hash);
    expect(many[3]!.prev).toBe(many[1]!.hash);
    for (const e of many) {
      const { hash, logIndex, ...body } = e;
      expect(hash).toBe(sha256Hex(canonicalJson(body)));
    }
    for (const [subject, length] of [
      [a, 4],
      [b, 2],
    ] as const) {
      const chain = await readSubjectEvents(ctx.prisma, subject);
      expect(chain.map((c) => c.body)).toEqual(
        [first, ...many]
          .filter((e) => e.subject.id === subject.id)
          .map(({ hash, logIndex, ...body }) => canonicalJson(body)),
      );
      expect(verifyChain(subject, chain)).toMatchObject({ valid: true, length });
    }
  });

  it('stores every corpus value byte for byte as one batch', async () => {
    const subject: Subject = { type: 'claim', id: randomUUID() };
    const values = Object.values(canonicalCorpus);
    const events = await writeTransaction(ctx.pool, async (tx) => {
      const made = await appendEvents(
        tx,
        values.map((value) => ({
          subject,
          type: 'claim_updated' as const,
          actor: 'user:x',
          data: { before: { value }, after: {} } as never,
        })),
      );
      throw Object.assign(new Error('keep none of it'), { made });
    }).catch((err: { made?: Awaited<ReturnType<typeof appendEvents>> }) => err.made);
    // The batch was assembled in SQL and rolled back: compare what SQL hashed with JavaScript.
    expect(events).toHaveLength(values.length);
    for (const e of events!) {
      const { hash, logIndex, ...body } = e;
      expect(hash).toBe(sha256Hex(canonicalJson(body)));
    }
    expect(await readSubjectEvents(ctx.prisma, subject)).toEqual([]);
  });

  it('an empty batch issues no statement', async () => {
    await expect(writeTransaction(ctx.pool, (tx) => appendEvents(tx, []))).resolves.toEqual([]);
  });
});

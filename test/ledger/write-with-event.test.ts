// writeWithEvent: a row and its event in one statement (autocommitted on the pool, or one
// statement of a unit of work), and appendEvent on the pool: the same bytes and chain as the
// transaction path, both or neither written, and never an event whose body and chain disagree.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/access/principal.ts';
import type { ClaimRow } from '../../src/claims/claims-store.ts';
import { claimInsert, newClaimRow } from '../../src/claims/claims-store.ts';
import { newId } from '../../src/db/ids.ts';
import { writeTransaction } from '../../src/db/unit-of-work.ts';
import { canonicalJson, sha256Hex } from '../../src/ledger/canonical.ts';
import { verifyChain } from '../../src/ledger/chain-verify.ts';
import {
  appendEvent,
  type LedgerEventView,
  readSubjectEvents,
  writeWithEvent,
} from '../../src/ledger/ledger.repository.ts';
import { useTestContext } from '../helpers/context.ts';

const ctx = useTestContext();

async function investigation(): Promise<{ investigationId: string; userId: string }> {
  const userId = newId();
  const investigationId = newId();
  await ctx.pool.query(`INSERT INTO users (id, name, role) VALUES ($1, 'Writer', 'editor')`, [userId]);
  await ctx.pool.query('INSERT INTO investigations (id, title, created_by) VALUES ($1, $2, $3)', [
    investigationId,
    'write-with-event',
    userId,
  ]);
  await ctx.pool.query('INSERT INTO memberships (investigation_id, user_id) VALUES ($1, $2)', [
    investigationId,
    userId,
  ]);
  return { investigationId, userId };
}

const editor = (id: string): Principal => ({ id, name: 'Writer', role: 'editor' });

function claimRow(investigationId: string, userId: string): ClaimRow {
  return newClaimRow({
    id: newId(),
    investigationId,
    statement: 'Ünïcode "quoted" statement \u2028 with a line separator.',
    claimantName: 'Someone',
    claimantRole: null,
    claimedAt: new Date('2026-03-01T12:00:00.123Z'),
    claimedAtPrecision: 'datetime',
    language: 'en',
    tags: ['a', 'b'],
    createdBy: userId,
    at: new Date(),
  });
}

const claimCreated = (row: ClaimRow, userId: string) => ({
  subject: { type: 'claim' as const, id: row.id },
  type: 'claim_created' as const,
  actor: `user:${userId}`,
  data: { investigationId: row.investigationId, claim: { id: row.id, statement: row.statement } },
  at: row.createdAt,
});

async function storedRow(id: string) {
  const { rows } = await ctx.pool.query<{
    status: string;
    created_at: Date;
    claimed_at: Date;
    tags: string[];
  }>('SELECT status::text, created_at, claimed_at, tags FROM claims WHERE id = $1', [id]);
  return rows[0];
}

function expectSealed(e: LedgerEventView) {
  const { hash, logIndex, ...body } = e;
  expect(hash).toBe(sha256Hex(canonicalJson(body)));
}

describe('writeWithEvent', () => {
  it('writes the row and appends its event in one autocommitted statement, as the chain expects', async () => {
    const { investigationId, userId } = await investigation();
    const row = claimRow(investigationId, userId);
    const event = await writeWithEvent(ctx.pool, claimInsert(row, editor(userId)), claimCreated(row, userId));
    expect(event).toMatchObject({ seq: 1, prev: null, subject: { type: 'claim', id: row.id } });
    expectSealed(event!);
    // The stored row is the row the event describes.
    expect(await storedRow(row.id)).toEqual({
      status: row.status,
      created_at: row.createdAt,
      claimed_at: row.claimedAt,
      tags: row.tags,
    });
    // A second event on the same subject through the unit of work chains onto it.
    const next = await writeTransaction(ctx.pool, (tx) =>
      appendEvent(tx, {
        subject: { type: 'claim', id: row.id },
        type: 'claim_updated',
        actor: `user:${userId}`,
        data: { before: { tags: ['a', 'b'] }, after: { tags: ['a'] } },
      }),
    );
    expect(next).toMatchObject({ seq: 2, prev: event!.hash });
    const chain = await readSubjectEvents(ctx.prisma, { type: 'claim', id: row.id });
    expect(chain.map((c) => c.hash)).toEqual([event!.hash, next.hash]);
    expect(verifyChain({ type: 'claim', id: row.id }, chain)).toMatchObject({ valid: true, length: 2 });
  });

  it('is one statement of a unit of work too: rolled back with it', async () => {
    const { investigationId, userId } = await investigation();
    const row = claimRow(investigationId, userId);
    await expect(
      writeTransaction(ctx.pool, async (tx) => {
        await writeWithEvent(tx, claimInsert(row, editor(userId)), claimCreated(row, userId));
        throw new Error('abandon');
      }),
    ).rejects.toThrow('abandon');
    expect(await storedRow(row.id)).toBeUndefined();
    expect(await readSubjectEvents(ctx.prisma, { type: 'claim', id: row.id })).toHaveLength(0);
  });

  it('appends nothing when the write writes nothing, and writes nothing when the append fails', async () => {
    const { investigationId, userId } = await investigation();
    // A write that matches no row (here an UPDATE of a claim that does not exist): no event.
    const row = claimRow(investigationId, userId);
    const nothing = await writeWithEvent(
      ctx.pool,
      {
        text: `UPDATE claims SET updated_at = $2 WHERE id = $1 RETURNING id AS subject_id`,
        params: [randomUUID(), new Date()],
      },
      claimCreated(row, userId),
    );
    expect(nothing).toBeUndefined();
    expect(await readSubjectEvents(ctx.prisma, { type: 'claim', id: row.id })).toHaveLength(0);

    // A row whose id is not the event's subject: the statement fails, neither is written.
    const other = claimRow(investigationId, userId);
    await expect(
      writeWithEvent(ctx.pool, claimInsert(other, editor(userId)), claimCreated(row, userId)),
    ).rejects.toThrow(/subject_id/);
    expect(await storedRow(other.id)).toBeUndefined();
    expect(await readSubjectEvents(ctx.prisma, { type: 'claim', id: row.id })).toHaveLength(0);
    expect(await readSubjectEvents(ctx.prisma, { type: 'claim', id: other.id })).toHaveLength(0);

    // An event the catalogue refuses: refused before anything is sent.
    await expect(
      writeWithEvent(ctx.pool, claimInsert(row, editor(userId)), {
        ...claimCreated(row, userId),
        // biome-ignore lint/suspicious/noExplicitAny: deliberately ill-typed input
        data: { claim: {} } as any,
      }),
    ).rejects.toThrow();
    expect(await storedRow(row.id)).toBeUndefined();
  });
});

describe('claimInsert (POST claim: check, write and append in one statement)', () => {
  it('writes nothing for a caller who may not see the investigation; an admin needs no membership', async () => {
    const { investigationId, userId } = await investigation();
    const outsider = await investigation(); // a user who is a member elsewhere only
    const row = claimRow(investigationId, outsider.userId);
    expect(
      await writeWithEvent(
        ctx.pool,
        claimInsert(row, editor(outsider.userId)),
        claimCreated(row, outsider.userId),
      ),
    ).toBeUndefined();
    const missing = claimRow(randomUUID(), userId);
    expect(
      await writeWithEvent(ctx.pool, claimInsert(missing, editor(userId)), claimCreated(missing, userId)),
    ).toBeUndefined();
    for (const id of [row.id, missing.id]) {
      expect(await storedRow(id)).toBeUndefined();
      expect(await readSubjectEvents(ctx.prisma, { type: 'claim', id })).toHaveLength(0);
    }
    const admin: Principal = { id: outsider.userId, name: 'Admin', role: 'admin' };
    const event = await writeWithEvent(ctx.pool, claimInsert(row, admin), claimCreated(row, admin.id));
    expect(event).toMatchObject({ seq: 1, subject: { id: row.id } });
    expect(await storedRow(row.id)).toBeDefined();
    // The member of the investigation it is, of course.
    const own = claimRow(investigationId, userId);
    expect(
      await writeWithEvent(ctx.pool, claimInsert(own, editor(userId)), claimCreated(own, userId)),
    ).toBeDefined();
  });
});

describe('appendEvent on the pool', () => {
  it('is one autocommitted statement with the same chain', async () => {
    const subject = { type: 'user' as const, id: randomUUID() };
    const ev = (revoked: number) => ({
      subject,
      type: 'user_tokens_revoked' as const,
      actor: 'system:test',
      data: { revoked },
    });
    const first = await appendEvent(ctx.pool, ev(1));
    const second = await appendEvent(ctx.pool, ev(2));
    expect([first.seq, second.seq, second.prev]).toEqual([1, 2, first.hash]);
    expectSealed(second);
    const chain = await readSubjectEvents(ctx.prisma, subject);
    expect(verifyChain(subject, chain)).toMatchObject({ valid: true, length: 2 });
  });
});

// Claim edits and listing. An edit is one ledger event holding exactly the fields that
// changed, before and after, and the actor.
import { assertMember, notFoundUnlessId, requireRole } from '../access/access.ts';
import { actorOf, type Principal } from '../access/principal.ts';
import type { AppContext } from '../context.ts';
import { Prisma, type PrismaClient } from '../db/prisma.ts';
import { writeWithEvents } from '../db/sql-change.ts';
import { writeTransaction } from '../db/unit-of-work.ts';
import { AppError } from '../lib/errors.ts';
import type { ClaimListQuery, ClaimPatch } from './claims.schema.ts';
import { claimView } from './claims.service.ts';
import { type ClaimRow, claimedAtColumns, lockClaim, updateClaimRow } from './claims-store.ts';

type ClaimField = ReturnType<typeof claimView>[keyof ReturnType<typeof claimView>];

export async function updateClaim(
  { prisma, pool }: Pick<AppContext, 'prisma' | 'pool'>,
  p: Principal,
  id: string,
  patch: ClaimPatch,
) {
  notFoundUnlessId(id, 'claim');
  return writeTransaction(pool, async (tx) => {
    // Row lock: two concurrent edits each record the true before-state.
    const current = await lockClaim(tx, id);
    if (!current) throw new AppError('not_found', `No claim ${id}.`);
    await assertMember(prisma, p, current.investigationId, 'claim', id);
    requireRole(p, 'write', 'edit claims');
    // The edit's time is its event's: the export projection takes updatedAt from claim_updated.
    const at = new Date();
    const next: ClaimRow = {
      ...current,
      ...(patch.statement !== undefined ? { statement: patch.statement } : {}),
      ...(patch.claimant !== undefined
        ? {
            claimantName: patch.claimant.name,
            claimantRole: patch.claimant.role ?? null,
            claimantTimeZone: patch.claimant.timeZone ?? null,
          }
        : {}),
      ...(patch.claimedAt !== undefined ? claimedAtColumns(patch.claimedAt) : {}),
      ...(patch.language !== undefined ? { language: patch.language } : {}),
      ...(patch.tags !== undefined ? { tags: patch.tags } : {}),
      ...(patch.status !== undefined ? { status: patch.status } : {}),
      updatedAt: at,
    };
    const before: Record<string, ClaimField> = {};
    const after: Record<string, ClaimField> = {};
    const [b, a] = [claimView(current), claimView(next)];
    for (const key of ['statement', 'claimant', 'claimedAt', 'language', 'tags', 'status'] as const) {
      if (JSON.stringify(b[key]) !== JSON.stringify(a[key])) {
        before[key] = b[key];
        after[key] = a[key];
      }
    }
    // A patch that changes nothing is no edit (no write, no event, updatedAt kept).
    if (Object.keys(after).length === 0) return b;
    await writeWithEvents(
      tx,
      [updateClaimRow(next)],
      [
        {
          subject: { type: 'claim', id },
          type: 'claim_updated',
          actor: actorOf(p),
          data: { before, after },
          at,
        },
      ],
    );
    return a;
  });
}

/** Claims of an investigation, filtered, in id order (keyset pagination on id). `q` is a
 * Postgres full-text search (websearch syntax, 'simple' configuration: claims come in many
 * languages) over statement, claimant name and role. */
export async function listClaims(prisma: PrismaClient, investigationId: string, q: ClaimListQuery) {
  const where = [Prisma.sql`investigation_id = ${investigationId}::uuid`];
  if (q.status) where.push(Prisma.sql`status = ${q.status}::"ClaimStatus"`);
  if (q.tag) where.push(Prisma.sql`${q.tag} = ANY(tags)`);
  if (q.q) {
    where.push(
      Prisma.sql`to_tsvector('simple', statement || ' ' || claimant_name || ' ' || coalesce(claimant_role, ''))
                 @@ websearch_to_tsquery('simple', ${q.q})`,
    );
  }
  if (q.cursor) where.push(Prisma.sql`id > ${q.cursor}::uuid`);
  const ids = await prisma.$queryRaw<{ id: string }[]>`
    SELECT id::text FROM claims WHERE ${Prisma.join(where, ' AND ')} ORDER BY claims.id LIMIT ${q.limit + 1}`;
  const page = ids.slice(0, q.limit).map((r) => r.id);
  const rows = await prisma.claim.findMany({ where: { id: { in: page } }, orderBy: { id: 'asc' } });
  return { items: rows.map(claimView), nextCursor: ids.length > q.limit ? (page.at(-1) ?? null) : null };
}

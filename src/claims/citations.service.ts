// Withdrawing a citation: the claim stops citing the source. The citation row goes and a
// `citation_withdrawn` event of the claim records it in the same transaction; the source, its
// captures, evidence and custody stay (other claims may cite it, and what was preserved was
// preserved). The export projection folds the event, so the citation leaves export.json too.
import { assertMember, notFoundUnlessId, requireRole } from '../access/access.ts';
import { actorOf, type Principal } from '../access/principal.ts';
import type { AppContext } from '../context.ts';
import { writeTransaction } from '../db/unit-of-work.ts';
import { appendEvent } from '../ledger/ledger.repository.ts';
import { AppError } from '../lib/errors.ts';
import type { CitationWithdrawn } from './claim-view.schema.ts';
import { deleteCitation } from './claims-store.ts';

/** 404 for an unknown citation or one the caller may not see; 403 for roles that may not write. */
export async function withdrawCitation(
  { prisma, pool }: Pick<AppContext, 'prisma' | 'pool'>,
  p: Principal,
  id: string,
): Promise<CitationWithdrawn> {
  notFoundUnlessId(id, 'citation');
  const notFound = () => new AppError('not_found', `No citation ${id}.`);
  const found = await prisma.citation.findUnique({
    where: { id },
    select: { claimId: true, claim: { select: { investigationId: true } } },
  });
  if (!found) throw notFound();
  await assertMember(prisma, p, found.claim.investigationId, 'citation', id);
  requireRole(p, 'write', 'withdraw citations');
  return writeTransaction(pool, async (tx) => {
    const at = new Date();
    // The DELETE decides: of two racing withdrawals one finds the row, the other a 404.
    const row = await deleteCitation(tx, { id, claimId: found.claimId });
    if (!row) throw notFound();
    await appendEvent(tx, {
      subject: { type: 'claim', id: found.claimId },
      type: 'citation_withdrawn',
      actor: actorOf(p),
      data: { citationId: id, sourceId: row.sourceId, relation: row.relation },
      at,
    });
    return {
      citationId: id,
      claimId: found.claimId,
      sourceId: row.sourceId,
      relation: row.relation as CitationWithdrawn['relation'],
      withdrawnAt: at.toISOString(),
    };
  });
}

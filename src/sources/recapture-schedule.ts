// A source's recapture interval: the row and its `recapture_scheduled` event in one
// transaction, so the schedule (shown by the API and in exports) is in the ledger too.
import type { PrismaClient } from '../db/prisma.ts';
import { appendEvent } from '../ledger/ledger.repository.ts';

export async function setRecaptureInterval(
  prisma: PrismaClient,
  input: { sourceId: string; everySeconds: number | null; actor: string },
): Promise<void> {
  await prisma.$transaction(async (tx) => {
    await tx.source.update({
      where: { id: input.sourceId },
      data: { recaptureEverySeconds: input.everySeconds },
    });
    await appendEvent(tx, {
      subject: { type: 'source', id: input.sourceId },
      type: 'recapture_scheduled',
      actor: input.actor,
      data: { everySeconds: input.everySeconds },
    });
  });
}

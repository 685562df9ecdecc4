// custody.verify-subject: recompute one subject's chain; a broken chain fails the job
// (not retried: the data will not heal) with the first bad event as the recorded reason.
import { UnrecoverableError } from 'bullmq';
import { verifyChain } from '../../src/ledger/chain-verify.ts';
import { readSubjectEvents } from '../../src/ledger/ledger.repository.ts';
import { handle } from '../handler.ts';

export const verifySubjectJob = handle('custody.verify-subject', async ({ subject }, { ctx, log }) => {
  const events = await readSubjectEvents(ctx.prisma, subject);
  const verdict = verifyChain(subject, events);
  if (!verdict.valid) {
    log.error({ subject, verdict }, 'chain of custody is broken');
    throw new UnrecoverableError(`seq ${verdict.firstInvalidSeq}: ${verdict.reason}`);
  }
  log.info({ subject, length: verdict.length }, 'chain of custody verified');
  return verdict;
});

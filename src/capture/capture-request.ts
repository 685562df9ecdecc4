// Asking for a capture: a `captures` row and a `capture_requested` event in the caller's
// transaction, and the job enqueued only after that transaction commits. An enqueue lost
// between the two (crash, Redis down) is repaired by the capture sweep, which re-enqueues
// captures still `queued`; the job id is the capture id, so a repeat add is a no-op.
import type { Tx } from '../ledger/ledger.repository.ts';
import { appendEvent } from '../ledger/ledger.repository.ts';
import type { Queues } from '../queue/queues.ts';

export type CaptureReason = 'cited' | 'manual' | 'scheduled';

export async function requestCapture(
  tx: Tx,
  input: { sourceId: string; reason: CaptureReason; requestedBy: string | null; actor: string },
): Promise<string> {
  const capture = await tx.capture.create({
    data: { sourceId: input.sourceId, reason: input.reason, requestedBy: input.requestedBy },
    select: { id: true },
  });
  await appendEvent(tx, {
    subject: { type: 'source', id: input.sourceId },
    type: 'capture_requested',
    actor: input.actor,
    data: { captureId: capture.id, reason: input.reason },
  });
  return capture.id;
}

/** BullMQ custom ids may not contain ':'; a uuid never does. */
export const captureJobId = (captureId: string) => `capture-${captureId}`;

export async function enqueueCapture(queues: Queues, captureId: string): Promise<void> {
  await queues.enqueue('capture.source', { captureId }, { jobId: captureJobId(captureId) });
}

/** Enqueue after commit; a failure is logged and left to the sweep, never lost. */
export async function enqueueCaptureAfterCommit(
  queues: Queues,
  captureId: string,
  log: { warn: (o: object, m: string) => void },
): Promise<void> {
  try {
    await enqueueCapture(queues, captureId);
  } catch (err) {
    log.warn({ captureId, err: (err as Error).message }, 'capture not enqueued; the sweep will retry');
  }
}

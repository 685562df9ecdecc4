// Asking for a capture: a `captures` row and a `capture_requested` event in the caller's
// transaction (one statement with whatever else it writes), and the job enqueued only after
// that transaction commits (tx.afterCommit). An enqueue lost between the two (crash, Redis
// down) is repaired by the capture sweep, which re-enqueues captures still `queued`; the job id
// is the capture id, so a repeat add is a no-op.
import { newId } from '../db/ids.ts';
import { type SqlChange, writeWithEvents } from '../db/sql-change.ts';
import type { WriteTx } from '../db/unit-of-work.ts';
import type { EventType } from '../ledger/event-types.ts';
import type { AppendInput } from '../ledger/ledger.repository.ts';
import { logger } from '../lib/logger.ts';
import type { Queues } from '../queue/queues.ts';
import { insertCapture } from './capture-store.ts';

export type CaptureReason = 'cited' | 'manual' | 'scheduled';

export interface CaptureRequestInput {
  sourceId: string;
  reason: CaptureReason;
  requestedBy: string | null;
  actor: string;
}

/** The row and event of a capture request, for a caller that writes them with more. */
export function captureRequest(input: CaptureRequestInput): {
  captureId: string;
  changes: SqlChange[];
  events: AppendInput<EventType>[];
} {
  const captureId = newId();
  return {
    captureId,
    changes: [insertCapture({ id: captureId, ...input })],
    events: [
      {
        subject: { type: 'source', id: input.sourceId },
        type: 'capture_requested',
        actor: input.actor,
        data: { captureId, reason: input.reason },
      },
    ],
  };
}

/**
 * Requests a capture in `tx` (one statement) and, with `queues`, enqueues its job after the
 * commit. Returns the capture id.
 */
export async function requestCapture(
  tx: WriteTx,
  queues: Pick<Queues, 'enqueue'> | null,
  input: CaptureRequestInput,
): Promise<string> {
  const request = captureRequest(input);
  await writeWithEvents(tx, request.changes, request.events);
  if (queues) enqueueAfterCommit(tx, queues, request.captureId);
  return request.captureId;
}

/** Enqueues the capture's job once `tx` commits; a failure is logged and left to the sweep. */
export function enqueueAfterCommit(tx: WriteTx, queues: Pick<Queues, 'enqueue'>, captureId: string): void {
  tx.afterCommit(async () => {
    try {
      await enqueueCapture(queues, captureId);
    } catch (err) {
      logger().warn({ captureId, err: (err as Error).message }, 'capture not enqueued; the sweep will retry');
    }
  });
}

/** BullMQ custom ids may not contain ':'; a uuid never does. */
export const captureJobId = (captureId: string) => `capture-${captureId}`;

export async function enqueueCapture(queues: Pick<Queues, 'enqueue'>, captureId: string): Promise<void> {
  await queues.enqueue('capture.source', { captureId }, { jobId: captureJobId(captureId) });
}

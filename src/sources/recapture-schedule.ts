// A source's recapture interval: the row and its `recapture_scheduled` event written together
// (src/db/sql-change.ts), so the schedule (shown by the API and in exports) is in the ledger too.
import type { SqlChange } from '../db/sql-change.ts';
import type { EventType } from '../ledger/event-types.ts';
import type { AppendInput } from '../ledger/ledger.repository.ts';
import { setRecaptureEvery } from './sources-store.ts';

export function recaptureSchedule(input: { sourceId: string; everySeconds: number | null; actor: string }): {
  changes: SqlChange[];
  events: AppendInput<EventType>[];
} {
  return {
    changes: [setRecaptureEvery(input.sourceId, input.everySeconds)],
    events: [
      {
        subject: { type: 'source', id: input.sourceId },
        type: 'recapture_scheduled',
        actor: input.actor,
        data: { everySeconds: input.everySeconds },
      },
    ],
  };
}

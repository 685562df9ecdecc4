// What recording an evidence item writes, for captures and uploads alike: the row and its
// `stored` and `metadata_extracted` events, and the events and row change of its checks. Built
// here, written by the caller with its other changes in one statement (src/db/sql-change.ts).
import type { Check, CheckOutcome, Json } from '../capture/checks.ts';
import type { NewItem } from '../capture/describe.ts';
import { newId } from '../db/ids.ts';
import type { SqlChange } from '../db/sql-change.ts';
import type { EventType } from '../ledger/event-types.ts';
import type { AppendInput } from '../ledger/ledger.repository.ts';
import { storableDescription } from '../lib/storable-text.ts';
import { mediaHashesChange } from '../media/pdq-store.ts';
import { type EvidenceInsert, setEvidenceChecks } from './evidence-store.ts';

const sourceSubject = (id: string) => ({ type: 'source' as const, id });

export interface NewEvidence {
  /** The row to insert (insertEvidence); `checks` may be set before it is. */
  row: EvidenceInsert;
  events: AppendInput<EventType>[];
  /** Other rows of the item (its perceptual hashes), written in the same statement. */
  changes: SqlChange[];
}

/** A new item of a source, described: its row and events, one timestamp for both. */
export function newEvidence(
  described: NewItem & {
    sourceId: string;
    captureId: string | null;
    actor: string;
    sha256: string;
    size: number;
    originUrl: string | null;
    uploadedBy: string | null;
  },
): NewEvidence {
  // The one place descriptions are written: hostile text in them is stored escaped, marked.
  const input = storableDescription(described);
  // One timestamp for the row and its `stored` event: the export projection reads it there.
  const at = new Date();
  const row: EvidenceInsert = {
    id: newId(),
    sourceId: input.sourceId,
    captureId: input.captureId,
    kind: input.kind,
    mediaType: input.mediaType,
    declaredType: input.declaredType,
    size: input.size,
    sha256: input.sha256,
    metadata: input.analysis.metadata,
    checks: [],
    originUrl: input.originUrl,
    uploadedBy: input.uploadedBy,
    capturedAt: at,
  };
  const subject = sourceSubject(input.sourceId);
  return {
    row,
    changes: described.hashes?.length ? [mediaHashesChange(row.id, row.sourceId, described.hashes)] : [],
    events: [
      {
        subject,
        type: 'stored',
        actor: input.actor,
        data: {
          captureId: input.captureId,
          evidenceId: row.id,
          kind: input.kind,
          sha256: input.sha256,
          size: input.size,
          mediaType: input.mediaType,
          originUrl: input.originUrl,
          declaredType: input.declaredType,
        },
        at,
      },
      {
        subject,
        type: 'metadata_extracted',
        actor: input.actor,
        data: {
          evidenceId: row.id,
          sha256: input.sha256,
          tool: input.analysis.tool,
          metadata: input.analysis.metadata as Record<string, Json>,
        },
      },
    ],
  };
}

/**
 * The events of checking an item (a check_passed / check_failed per check, then
 * checks_updated with the item's checks whole when they change: the ledger alone then tells
 * what they are) and the row change storing them. `existing: false` for an item inserted in the
 * same statement: its row is inserted with the checks instead.
 */
export function checkRecord(
  input: { sourceId: string; evidenceId: string; actor: string; existing: boolean },
  outcome: CheckOutcome,
): { changes: SqlChange[]; events: AppendInput<EventType>[] } {
  const subject = sourceSubject(input.sourceId);
  const events: AppendInput<EventType>[] = outcome.checks.map((check: Check) => ({
    subject,
    type: check.passed ? 'check_passed' : 'check_failed',
    actor: input.actor,
    data: { evidenceId: input.evidenceId, check },
  }));
  if (!outcome.changed) return { changes: [], events };
  events.push({
    subject,
    type: 'checks_updated',
    actor: input.actor,
    data: { evidenceId: input.evidenceId, checks: outcome.all },
  });
  return { changes: input.existing ? [setEvidenceChecks(input.evidenceId, outcome.all)] : [], events };
}

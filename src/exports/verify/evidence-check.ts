// export.json describes each evidence item (sha256, size, media type, kind, source), but
// export.json is not signed. The `stored` event that recorded the item is, through its chain
// and inclusion proof: every listed item must match the one in its source's exported chain.
import type { ExportDoc } from './export-doc.ts';
import type { StoredRecord } from './ledger-check.ts';
import type { Problems } from './problems.ts';

const FIELDS = ['sha256', 'size', 'mediaType', 'kind'] as const;

/** Checks export.json's evidence against the `stored` events of the bag's chains. */
export function checkEvidenceRecords(
  doc: ExportDoc,
  stored: ReadonlyMap<string, StoredRecord>,
  problems: Problems,
): void {
  for (const [i, e] of doc.evidence.entries()) {
    const at = `export.json evidence[${i}] (${e.id})`;
    const record = stored.get(e.id);
    if (!record) {
      problems.add(`${at}: no stored event in the exported chains records this item`);
      continue;
    }
    if (record.sourceId !== e.sourceId) {
      problems.add(
        `${at}: names source ${e.sourceId}, but it was stored in source:${record.sourceId}'s chain`,
      );
    }
    for (const field of FIELDS) {
      if (record[field] !== e[field]) {
        problems.add(
          `${at}: ${field} is ${JSON.stringify(e[field])}, the stored event says ${JSON.stringify(record[field])}`,
        );
      }
    }
  }
}

// bag-info.txt is a tag file: nothing signs it, yet a reader takes what it says (a description
// of the scope, the checkpoint size) at its word. For an export of version 2 (whose exporter is
// known) every label is one the exporter writes, at most once, and each value that restates a
// proven part of the bag must equal it.
import { TIMESTAMPED_SIZE_LABEL, TIMESTAMPS_LABEL } from '../../anchors/timestamp/bag-timestamps.ts';
import {
  EXPORT_VERSION_LABEL,
  exportDescription,
  WITNESS_NAMES_LABEL,
  WITNESS_SIZE_LABEL,
} from '../bag/export-layout.ts';
import type { ExportDoc } from './export-doc.ts';
import type { Problems } from './problems.ts';
import type { ExportSummary } from './summary.ts';

/** Labels a version-2 bag holds; those checked elsewhere (identifier, date, oxum, version) map to null. */
function expectedValues(doc: ExportDoc, summary: ExportSummary): Map<string, string | RegExp | null> {
  return new Map<string, string | RegExp | null>([
    ['Source-Organization', 'claimtrail'],
    ['External-Identifier', null],
    ['External-Description', exportDescription(doc.scope)],
    ['Bag-Software-Agent', /^claimtrail \S+$/],
    ['Bagging-Date', null],
    ['Payload-Oxum', null],
    ['Checkpoint-Size', summary.treeSize === null ? null : String(summary.treeSize)],
    ['Log-Origin', summary.origin],
    [EXPORT_VERSION_LABEL, null],
    // Which checkpoint the bag's timestamps are of, and how many there are (issue 15).
    [TIMESTAMPED_SIZE_LABEL, String(summary.timestamps.size ?? 'none')],
    [TIMESTAMPS_LABEL, String(summary.timestamps.count)],
    // Checked against the witness files by witness-check.ts.
    [WITNESS_SIZE_LABEL, null],
    [WITNESS_NAMES_LABEL, null],
  ]);
}

export function checkBagInfoStatements(
  fields: [string, string][],
  doc: ExportDoc,
  summary: ExportSummary,
  problems: Problems,
): void {
  const expected = expectedValues(doc, summary);
  const seen = new Set<string>();
  for (const [label, value] of fields) {
    if (!expected.has(label)) {
      problems.add(`bag-info.txt ${label}: a claimtrail bag has no such label (nothing proves what it says)`);
      continue;
    }
    if (seen.has(label)) problems.add(`bag-info.txt holds ${label} more than once`);
    seen.add(label);
    const want = expected.get(label);
    if (want === null || want === undefined) continue;
    if (typeof want === 'string' ? value !== want : !want.test(value))
      problems.add(
        `bag-info.txt ${label} is ${JSON.stringify(value)}, expected ${typeof want === 'string' ? JSON.stringify(want) : `a value matching ${want}`}`,
      );
  }
}

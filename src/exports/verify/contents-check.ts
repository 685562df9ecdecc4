// The checks every export format gets, a bag or the JSON export laid out as one (ExportFiles):
// export.json, the signed checkpoint and key, every chain and its inclusion proofs, the
// export_scope record, the format version, and export.json held to the view of the chains.
import { checkTimestamps } from '../../anchors/timestamp/verify-timestamps.ts';
import type { NoteVerifier } from '../../log/note.ts';
import { LEDGER_DIR, subjectOfLedgerPath } from '../bag/export-layout.ts';
import { EXPORT_VERSION } from '../export-context.ts';
import type { LedgerView } from '../ledger-view.ts';
import type { ExportFiles } from './bag-zip.ts';
import { type ExportDoc, readExportDoc } from './export-doc.ts';
import { checkLedger, type SubjectEntry } from './ledger-check.ts';
import { checkLog } from './log-check.ts';
import type { Problems } from './problems.ts';
import { checkScopeRecord } from './scope-check.ts';
import type { ExportSummary } from './summary.ts';
import { checkHead, checkView, OLD_EVIDENCE_FIELDS } from './view-check.ts';
import { checkWitnesses, type WitnessOptions } from './witness-check.ts';

/** Where the export repeats its version outside the signed record, and what it says there. */
export interface StatedVersion {
  where: string;
  value: string | undefined;
}

/** Said of a bag made before export version 2 (its export.json was not written from the chains). */
const oldExportUnproven = (stated: StatedVersion) => [
  `this export was made before export version 2 (no ${stated.where}, no version in its export_scope record): its chains, proofs, checkpoint and scope are verified, but export.json's claims, citations and sources, and its evidence beyond ${OLD_EVIDENCE_FIELDS.join(', ')}, are NOT proven by the ledger`,
];

/**
 * Export version: the signed export_scope record's, which bag-info.txt (or the JSON) must repeat (its line
 * alone is unsigned: stripping it cannot pass a new bag off as an old one). Then export.json
 * is held to the view of the chains: whole for version 2, what old bags proved otherwise.
 */
function checkVersionAndView(
  doc: ExportDoc,
  recorded: number | null,
  stated: StatedVersion,
  ledger: { view: LedgerView },
  summary: ExportSummary,
  problems: Problems,
): void {
  const label = stated.value;
  summary.exportVersion = recorded;
  if (recorded !== null && label !== String(recorded)) {
    problems.add(
      `${stated.where} is ${label ?? 'missing'}, but the signed export_scope record says version ${recorded}`,
    );
  }
  if (recorded === null && label !== undefined) {
    problems.add(`${stated.where} says ${label}, but the signed export_scope record states no version`);
  }
  if (recorded !== null && recorded > EXPORT_VERSION) {
    problems.add(
      `export version ${recorded} is newer than this verifier (${EXPORT_VERSION}): update claimtrail`,
    );
    return;
  }
  const oldFormat = recorded === null;
  if (oldFormat) summary.unproven = oldExportUnproven(stated);
  else {
    for (const p of ledger.view.problems) problems.add(`ledger ${p}`);
    checkHead(
      doc,
      ledger.view.exportRequests.get(doc.exportId),
      { checkpointSize: summary.treeSize, version: recorded, format: summary.format ?? 'bagit' },
      problems,
    );
  }
  checkView(doc, ledger.view.view(), problems, oldFormat);
}

function subjectsToCheck(files: ExportFiles, doc: ExportDoc | null): SubjectEntry[] {
  if (doc) return doc.subjects;
  // Without export.json, still check every chain the bag holds (lengths and heads unknown).
  const found: SubjectEntry[] = [];
  for (const path of [...files.files.keys()].sort()) {
    const s = path.startsWith(LEDGER_DIR) ? subjectOfLedgerPath(path) : null;
    if (s) found.push(s);
  }
  return found;
}

/** Runs the checks every format gets; returns export.json when it was usable. */
export async function checkContents(
  files: ExportFiles,
  options: {
    pinned: NoteVerifier | undefined;
    stated: (doc: ExportDoc) => StatedVersion;
    /** The auditor's TSA trust anchors (DER), if given. */
    tsaCa?: readonly Buffer[];
    witness: WitnessOptions;
    /** bag-info.txt's labels (a bag), whose witness labels must match the witness files. */
    bagInfo?: ReadonlyMap<string, string>;
  },
  summary: ExportSummary,
  problems: Problems,
): Promise<ExportDoc | null> {
  const doc = await readExportDoc(files, problems);
  if (doc) {
    summary.exportId = doc.exportId;
    summary.scope =
      'claimId' in doc.scope ? `claim ${doc.scope.claimId}` : `investigation ${doc.scope.investigationId}`;
    summary.includeContent = doc.includeContent;
    summary.claims = doc.claims.length;
    summary.sources = doc.sources.length;
    summary.evidence = doc.evidence.length;
    summary.subjects = doc.subjects.length;
  }
  const log = await checkLog(files, options.pinned, problems);
  summary.keyName = log.keyName;
  summary.treeSize = log.checkpoint?.size ?? null;
  summary.origin = log.checkpoint?.origin ?? null;
  summary.timestamps = await checkTimestamps(files, log, options.tsaCa, problems);
  const subjects = subjectsToCheck(files, doc);
  if (!doc) summary.subjects = subjects.length;
  const ledger = await checkLedger(files, subjects, log.checkpoint, problems, { pairProofs: doc !== null });
  summary.witness = await checkWitnesses(files, log, options.bagInfo ?? null, options.witness, problems);
  summary.events = ledger.events;
  summary.proofsVerified = ledger.proofsVerified;
  if (doc) {
    const scope = checkScopeRecord(doc, ledger.exportChainEnds.get(doc.exportId), problems);
    checkVersionAndView(doc, scope.exportVersion, options.stated(doc), ledger, summary, problems);
  }
  return doc;
}

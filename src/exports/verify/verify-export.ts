/**
 * Offline verification of a claimtrail export bag (`claimtrail verify-export FILE [--key KEY]`).
 * Needs no database, Redis or network: only the ZIP and, optionally, a verifier key the
 * auditor obtained independently (`pinnedKey`).
 *
 * # The bag layout (the contract the exporter follows; see src/exports/bag/export-layout.ts)
 *
 * ```
 * <bagName>/bagit.txt               "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
 * <bagName>/bag-info.txt            ... Payload-Oxum: <octets>.<files>, Bagging-Date: YYYY-MM-DD
 * <bagName>/manifest-sha256.txt     every file under data/ (and only those)
 * <bagName>/tagmanifest-sha256.txt  bagit.txt, bag-info.txt, manifest-sha256.txt
 * <bagName>/data/export.json        {exportId, scope: {claimId}|{investigationId}, createdAt,
 *                                   includeContent, claims, sources,
 *                                   evidence: [{id, sourceId, sha256, size, mediaType, kind, ...}],
 *                                   subjects: [{type, id, length, headHash}]}
 * <bagName>/data/content/<sha256>   evidence bytes, one per distinct sha256, iff includeContent
 * <bagName>/data/ledger/<type>/<id>.jsonl  one RFC 8785 canonical event body per line, seq order,
 *                                   each line + "\n"; event hash = sha256(line bytes)
 * <bagName>/data/log/checkpoint     C2SP tlog-checkpoint signed note
 * <bagName>/data/log/key            verifier key name+hexhash+base64key
 * <bagName>/data/log/proofs.jsonl   {"hash","index","proof":[base64...]} per event, in event order
 *                                   (export.json subjects order, then seq)
 * ```
 *
 * # What is checked (each failure is one problem naming the file, line, subject or seq)
 *
 * - ZIP: exactly one top-level directory; no duplicate, encrypted or unsafe entries.
 * - BagIt: bagit.txt exact; bag-info.txt parses, Payload-Oxum matches the payload; every
 *   manifest line's file exists with that SHA-256 and every file under data/ is listed; the
 *   tag manifest lists the three tag files with their SHA-256; no other tag files.
 * - export.json parses and has the fields above; evidence names exported sources.
 * - Ledger: each listed subject has its file (optional for length 0) and no other ledger file
 *   exists; each line is canonical, seq runs 1..n, prev links to the previous line's hash (null
 *   for seq 1), the body names the file's subject; length and headHash match export.json.
 * - Scope: export.json lists the export's own chain, which ends with its export_scope record
 *   (proven in the log like every event), and the record lists exactly export.json's other
 *   subjects with the same lengths and heads — so no chain can be cut short unnoticed.
 * - Version: the export_scope record states the format version (2), which bag-info.txt's
 *   Claimtrail-Export-Version must repeat; a bag whose record states none was made before
 *   version 2 and is reported with what it cannot prove (summary.unproven), not as tampered.
 * - View: the chains are folded into claims (with citations), sources and evidence
 *   (../ledger-view.ts, what the builder wrote export.json from); every field of export.json's
 *   must equal it, and no item may be dropped or invented (view-check.ts). An old bag is held
 *   to what it proved before: each evidence item's stored event.
 * - JSON exports: laid out as the bag they mirror (json-export-files.ts), same checks but the
 *   BagIt ones.
 * - Content (includeContent): data/content/<sha256> exists for every evidence sha256, hashes to
 *   its name and has the evidence's size; no unreferenced content file.
 * - Log: the checkpoint opens with the bundled key; with pinnedKey, the bundled key is that key
 *   and the checkpoint opens with it; proofs.jsonl holds exactly one RFC 6962 inclusion proof per
 *   event, in order, each verifying against the checkpoint's size and root.
 * - Timestamps (when the bag has them): src/anchors/timestamp/verify-timestamps.ts.
 *
 * Every file is streamed once (yauzl, lazy entries), hashed on the way, ledger and proofs line
 * by line; memory holds one digest per file but nothing per event or per payload byte.
 * export.json (metadata) is the one file parsed whole.
 */
import { open, stat } from 'node:fs/promises';
import { isTimestampPath } from '../../anchors/timestamp/bag-timestamps.ts';
import { certificatesFromPem } from '../../anchors/timestamp/tsa-verify.ts';
import { type NoteVerifier, parseVerifierKey } from '../../log/note.ts';
import {
  CHECKPOINT_FILE,
  CONTENT_DIR,
  EXPORT_JSON,
  EXPORT_VERSION_LABEL,
  KEY_FILE,
  LEDGER_DIR,
  PROOFS_FILE,
  WITNESS_CHECKPOINT_FILE,
  WITNESS_CONSISTENCY_FILE,
} from '../bag/export-layout.ts';
import { checkBagInfoStatements } from './bag-info-check.ts';
import {
  checkBagitTxt,
  checkPayload,
  checkTagFiles,
  readBagInfo,
  readPayloadManifest,
} from './bag-structure.ts';
import { BagZip, type Digest } from './bag-zip.ts';
import { checkContents } from './contents-check.ts';
import type { ExportDoc } from './export-doc.ts';
import { JsonExportFiles } from './json-export-files.ts';
import { keyId } from './log-check.ts';
import { Problems } from './problems.ts';
import { type ExportSummary, emptySummary } from './summary.ts';
import { parseWitnessOptions, type WitnessOptions } from './witness-check.ts';

export type { ExportSummary } from './summary.ts';

export interface ExportReport {
  ok: boolean;
  problems: string[];
  summary: ExportSummary;
}

/** The file cannot be read at all (missing, a directory, no permission): not a verdict. */
export class ExportFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportFileError';
  }
}

/** The pinned key is not a verifier key: a usage error, not a verdict on the bag. */
export class PinnedKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PinnedKeyError';
  }
}

/** Content files: named by their hash, present iff includeContent, one per evidence sha256. */
async function checkContent(bag: BagZip, doc: ExportDoc | null, problems: Problems): Promise<number> {
  const sizes = new Map<string, { size: number; id: string }>();
  for (const e of doc?.evidence ?? []) {
    const seen = sizes.get(e.sha256);
    if (seen && seen.size !== e.size) {
      problems.add(
        `${EXPORT_JSON}: evidence ${seen.id} and ${e.id} share sha256 ${e.sha256} but not the size`,
      );
    }
    if (!seen) sizes.set(e.sha256, { size: e.size, id: e.id });
  }
  let files = 0;
  for (const path of bag.files.keys()) {
    if (!path.startsWith(CONTENT_DIR)) continue;
    files++;
    const name = path.slice(CONTENT_DIR.length);
    if (!/^[0-9a-f]{64}$/.test(name)) {
      problems.add(`${path}: unexpected file (content files are named by their lowercase hex SHA-256)`);
      continue;
    }
    if (doc && !doc.includeContent)
      problems.add(`${path} is present but export.json says includeContent false`);
    let digest: Digest;
    try {
      digest = await bag.digest(path);
    } catch (err) {
      problems.add((err as Error).message);
      continue;
    }
    if (digest.sha256 !== name) problems.add(`${path}: content hashes to ${digest.sha256}, not to its name`);
    const expected = sizes.get(name);
    if (doc && !expected) problems.add(`${path} is not the content of any evidence item in export.json`);
    if (expected && expected.size !== digest.size) {
      problems.add(`${path}: ${digest.size} bytes, but evidence ${expected.id} says size ${expected.size}`);
    }
  }
  if (doc?.includeContent) {
    for (const [sha256, { id }] of sizes) {
      if (!bag.has(`${CONTENT_DIR}${sha256}`)) {
        problems.add(`${CONTENT_DIR}${sha256} is missing: the content of evidence ${id}`);
      }
    }
  }
  return files;
}

/** Payload files outside the layout: listed in the manifest but proven by nothing, and a name
 * like data/Export.json would take export.json's place when unzipped on a case-insensitive disk. */
function checkNoOtherPayload(bag: BagZip, problems: Problems): void {
  const layout = new Set([
    EXPORT_JSON,
    CHECKPOINT_FILE,
    KEY_FILE,
    PROOFS_FILE,
    WITNESS_CHECKPOINT_FILE,
    WITNESS_CONSISTENCY_FILE,
  ]);
  for (const path of bag.files.keys()) {
    if (!path.startsWith('data/') || layout.has(path)) continue;
    if (path.startsWith(CONTENT_DIR) || path.startsWith(LEDGER_DIR)) continue; // checked by name there
    if (isTimestampPath(path)) continue; // checked by name in verify-timestamps.ts
    problems.add(`${path}: unexpected file (an export's payload holds only the files of its layout)`);
  }
}

async function startsWithZipMagic(path: string): Promise<boolean> {
  const file = await open(path);
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await file.read(head, 0, 2, 0);
    return bytesRead === 2 && head.toString('latin1') === 'PK';
  } finally {
    await file.close();
  }
}

/**
 * Verifies the export at `zipPath`: a zipped bag, or (when the file does not start as a ZIP
 * does) the JSON export, which gets every check a bag's contents get. Resolves to a report (ok
 * only when every check holds); rejects with ExportFileError when the file cannot be read,
 * PinnedKeyError when `pinnedKey` is not a verifier key. An unreadable ZIP or JSON is a failed
 * report.
 */
export async function verifyExport(
  zipPath: string,
  options: {
    pinnedKey?: string;
    /** PEM text of the auditor's TSA trust anchors. */
    tsaCa?: string;
    witness?: WitnessOptions;
  } = {},
): Promise<ExportReport> {
  const tsaCa = options.tsaCa === undefined ? undefined : certificatesFromPem(options.tsaCa);
  if (tsaCa?.length === 0) throw new PinnedKeyError('the --tsa-ca file holds no PEM certificate');
  const witness = options.witness ?? { witnesses: [] };
  parseWitnessOptions(witness); // a usage error (WitnessOptionError) before any verdict
  let pinned: NoteVerifier | undefined;
  if (options.pinnedKey !== undefined) {
    try {
      pinned = parseVerifierKey(options.pinnedKey.trim());
    } catch (err) {
      throw new PinnedKeyError(`the pinned key is not a verifier key: ${(err as Error).message}`);
    }
  }
  try {
    const s = await stat(zipPath);
    if (!s.isFile()) throw new ExportFileError(`${zipPath} is not a file`);
  } catch (err) {
    if (err instanceof ExportFileError) throw err;
    throw new ExportFileError(`cannot read ${zipPath}: ${(err as Error).message}`);
  }
  const problems = new Problems();
  const summary = emptySummary();
  summary.pinnedKey = pinned ? keyId(pinned) : null;
  const report = (): ExportReport => ({ ok: problems.ok, problems: problems.list(), summary });

  // Told by content, not by name: a ZIP starts with "PK"; anything else is read as the JSON export.
  if (!(await startsWithZipMagic(zipPath))) {
    summary.format = 'json';
    const files = await JsonExportFiles.open(zipPath, problems);
    if (files) {
      await checkContents(
        files,
        {
          pinned,
          witness,
          stated: (doc) => ({
            where: 'the JSON export’s exportVersion',
            value: doc.exportVersion === undefined ? undefined : String(doc.exportVersion),
          }),
        },
        summary,
        problems,
      );
    }
    return report();
  }
  let bag: BagZip;
  try {
    bag = await BagZip.open(zipPath, problems);
  } catch (err) {
    problems.add(`not a readable ZIP archive: ${(err as Error).message}`);
    return report();
  }
  summary.format = 'bagit';
  summary.bagName = bag.bagName;
  try {
    await checkBagitTxt(bag, problems);
    const info = await readBagInfo(bag, problems);
    const manifest = await readPayloadManifest(bag, problems);
    const doc = await checkContents(
      bag,
      {
        pinned,
        tsaCa,
        witness,
        bagInfo: new Map(info.fields),
        stated: () => ({
          where: `bag-info.txt ${EXPORT_VERSION_LABEL}`,
          value: info.fields.find(([l]) => l === EXPORT_VERSION_LABEL)?.[1],
        }),
      },
      summary,
      problems,
    );
    if (doc && summary.exportVersion !== null) checkBagInfoStatements(info.fields, doc, summary, problems);
    const id = info.fields.find(([label]) => label === 'External-Identifier')?.[1];
    if (doc && id !== undefined && id !== doc.exportId) {
      problems.add(
        `bag-info.txt External-Identifier ${id} is not the exportId ${doc.exportId} of export.json`,
      );
    }
    summary.contentFiles = await checkContent(bag, doc, problems);
    checkNoOtherPayload(bag, problems);
    const payload = await checkPayload(bag, manifest, info.oxum, problems);
    summary.payloadFiles = payload.files;
    summary.payloadBytes = payload.octets;
    await checkTagFiles(bag, problems);
  } catch (err) {
    problems.add(`cannot read the bag: ${(err as Error).message}`);
  } finally {
    bag.close();
  }
  return report();
}

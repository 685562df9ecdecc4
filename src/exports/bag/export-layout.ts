/**
 * The layout of a claimtrail export bag — the contract between the exporter and
 * `claimtrail verify-export` (src/exports/verify/verify-export.ts). A BagIt 1.0 bag, zipped,
 * with exactly one top-level directory:
 *
 * ```
 * <bagName>/bagit.txt               BagIt-Version: 1.0 / Tag-File-Character-Encoding: UTF-8
 * <bagName>/bag-info.txt            Source-Organization, External-Identifier (= exportId),
 *                                   External-Description, Bag-Software-Agent, Bagging-Date,
 *                                   Payload-Oxum
 * <bagName>/manifest-sha256.txt     every file under data/, no other
 * <bagName>/tagmanifest-sha256.txt  bagit.txt, bag-info.txt, manifest-sha256.txt
 * <bagName>/data/export.json        {"exportId", "scope": {"claimId"} | {"investigationId"}, "createdAt",
 *                                   "includeContent": bool, "claims": [...], "sources": [...],
 *                                   "evidence": [{"id","sourceId","sha256","size","mediaType","kind",...}],
 *                                   "subjects": [{"type","id","length","headHash"}]}
 *                                   claims, sources and evidence are the API shapes; every
 *                                   evidence.sourceId is the id of one of `sources`.
 * <bagName>/data/content/<sha256>   evidence bytes, one file per distinct evidence sha256, named by
 *                                   the lowercase hex hash; present iff includeContent is true
 * <bagName>/data/ledger/<type>/<id>.jsonl
 *                                   one file per subject of export.json (and no other); one line
 *                                   per event in seq order 1..length, each line the event body's
 *                                   RFC 8785 canonical JSON text exactly
 *                                   ({subject:{type,id},seq,prev,type,actor,at,data}) followed by
 *                                   "\n"; the event hash is the lowercase hex SHA-256 of the line's
 *                                   bytes (without the "\n"). An empty chain (length 0) is an empty
 *                                   file or no file.
 * <bagName>/data/log/checkpoint     the C2SP tlog-checkpoint signed note (origin = key name)
 * <bagName>/data/log/key            the verifier key `name+hexhash+base64key`, one line
 * <bagName>/data/log/proofs.jsonl   one line per exported event, IN THE SAME ORDER as the events
 *                                   (export.json subjects order, then seq):
 *                                   {"hash": hex event hash, "index": leaf index,
 *                                    "proof": [base64 32-byte hashes, leaf to root]}
 *                                   — an RFC 6962 inclusion proof of leaf hash
 *                                   SHA-256(0x00 ‖ 32-byte event hash) at `index` in the tree of
 *                                   the checkpoint's size and root.
 * <bagName>/data/log/timestamped-checkpoint, data/log/timestamped-consistency.json,
 * <bagName>/data/log/timestamps/<n>.tsr, <n>.chain.pem
 *                                   RFC 3161 timestamps of the checkpoint (or of the nearest
 *                                   timestamped one, with the consistency proof): present only
 *                                   when the log has timestamps; layout in
 *                                   src/anchors/timestamp/bag-timestamps.ts
 * <bagName>/data/log/witness/checkpoint   (optional, issue 15) the first checkpoint at or after
 *                                   data/log/checkpoint's size that witnesses cosigned: its
 *                                   signed note with the C2SP cosignature/v1 lines appended
 * <bagName>/data/log/witness/consistency.json  (with it) {"from": bag checkpoint size, "to": its
 *                                   size, "proof": [base64…]}: RFC 6962 consistency proof from →
 *                                   to (empty when equal); bag-info.txt then says
 *                                   Witness-Checkpoint-Size: <to> and Witness-Cosigners: <names>
 * ```
 *
 * The fixed order of proofs.jsonl lets the verifier pair proofs with events while streaming both,
 * so verification needs no memory per event. Subject types and ids are used verbatim as path
 * segments: they must be non-empty and hold no "/" or "\", and not be "." or "..".
 */
export const EXPORT_JSON = 'data/export.json';
/** bag-info.txt label of the export format version (absent in bags made before version 2). */
export const EXPORT_VERSION_LABEL = 'Claimtrail-Export-Version';
export const CONTENT_DIR = 'data/content/';
export const LEDGER_DIR = 'data/ledger/';
export const CHECKPOINT_FILE = 'data/log/checkpoint';
export const KEY_FILE = 'data/log/key';
export const PROOFS_FILE = 'data/log/proofs.jsonl';
/** Witness cosignatures (issue 15), kept apart from the timestamps' files. */
export const WITNESS_CHECKPOINT_FILE = 'data/log/witness/checkpoint';
export const WITNESS_CONSISTENCY_FILE = 'data/log/witness/consistency.json';
export const WITNESS_SIZE_LABEL = 'Witness-Checkpoint-Size';
export const WITNESS_NAMES_LABEL = 'Witness-Cosigners';

/** bag-info.txt External-Description of an export of `scope` (the verifier holds it to the scope). */
export function exportDescription(scope: { claimId?: unknown; investigationId?: unknown }): string {
  const what = scope.claimId ? `claim ${scope.claimId}` : `investigation ${scope.investigationId}`;
  return `claimtrail audit export of ${what}: claims, sources, evidence, chains of custody, signed checkpoint and inclusion proofs`;
}

/** Path of an evidence content file. */
export const contentPath = (sha256: string): string => `${CONTENT_DIR}${sha256}`;

const badSegment = (s: string): boolean =>
  s === '' || s === '.' || s === '..' || s.includes('/') || s.includes('\\');

/** Path of a subject's ledger file; throws when the type or id cannot be a path segment. */
export function ledgerPath(subject: { type: string; id: string }): string {
  if (badSegment(subject.type) || badSegment(subject.id)) {
    throw new Error(`subject ${subject.type}:${subject.id} cannot be stored as a ledger file`);
  }
  return `${LEDGER_DIR}${subject.type}/${subject.id}.jsonl`;
}

/** The subject a ledger path names, or null when `path` is not `data/ledger/<type>/<id>.jsonl`. */
export function subjectOfLedgerPath(path: string): { type: string; id: string } | null {
  const m = /^data\/ledger\/([^/]+)\/([^/]+)\.jsonl$/.exec(path);
  return m ? { type: m[1]!, id: m[2]! } : null;
}

/** One line of proofs.jsonl. */
export interface ProofLine {
  hash: string;
  index: number;
  proof: string[];
}

// export.json is not signed; the chains are (their events are proven in the signed log). The
// verifier folds the exported chains into the export view (ledger-view.ts, the very code the
// builder writes export.json with) and holds export.json to it field by field: each
// difference is named with the item, the field, the value in the file and in the ledger.
import { canonicalJson } from '../../ledger/canonical.ts';
import type { ExportRequest, ExportView } from '../ledger-view.ts';
import type { ExportDoc } from './export-doc.ts';
import type { Problems } from './problems.ts';

type Kind = keyof ExportView;
const NOUN: Record<Kind, string> = { claims: 'claim', sources: 'source', evidence: 'evidence' };

/** What a bag made before export version 2 proves of its evidence (its `stored` events). */
export const OLD_EVIDENCE_FIELDS = ['sourceId', 'sha256', 'size', 'mediaType', 'kind'] as const;

const show = (v: unknown) => (v === undefined ? '(absent)' : canonicalJson(v));
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const hasIds = (a: unknown[]) =>
  a.every((x) => isObject(x) && typeof x.id === 'string') &&
  new Set(a.map((x) => (x as { id: string }).id)).size === a.length;

/** The paths at which `file` and `ledger` differ (arrays of items with ids paired by id). */
function differences(file: unknown, ledger: unknown, path: string, out: [string, unknown, unknown][]) {
  if (isObject(file) && isObject(ledger)) {
    for (const k of new Set([...Object.keys(ledger), ...Object.keys(file)]))
      differences(file[k], ledger[k], path ? `${path}.${k}` : k, out);
    return;
  }
  if (Array.isArray(file) && Array.isArray(ledger) && hasIds(file) && hasIds(ledger) && ledger.length > 0) {
    const byId = new Map(file.map((x) => [(x as { id: string }).id, x]));
    for (const x of ledger as { id: string }[]) {
      differences(byId.get(x.id), x, `${path}[id=${x.id}]`, out);
      byId.delete(x.id);
    }
    for (const [id, x] of byId) out.push([`${path}[id=${id}]`, x, undefined]);
    return;
  }
  if (file === undefined || ledger === undefined || canonicalJson(file) !== canonicalJson(ledger))
    out.push([path, file, ledger]);
}

/**
 * Compares export.json's claims, sources and evidence with the view of the exported chains.
 * `oldFormat`: a bag made before version 2, whose export.json was not written from the chains:
 * only what such a bag already proved is held to them (each evidence item's stored event).
 */
export function checkView(doc: ExportDoc, view: ExportView, problems: Problems, oldFormat = false): void {
  for (const kind of oldFormat ? (['evidence'] as const) : (['claims', 'sources', 'evidence'] as const)) {
    const ledger = new Map(view[kind].map((x) => [x.id, x as unknown as Record<string, unknown>]));
    const seen = new Set<string>();
    for (const [i, item] of (doc[kind] as Record<string, unknown>[]).entries()) {
      const id = String(item.id);
      const at = `export.json ${kind}[${i}] (${NOUN[kind]} ${id})`;
      if (seen.has(id)) {
        problems.add(`${at}: listed again`);
        continue;
      }
      seen.add(id);
      const recorded = ledger.get(id);
      if (!recorded) {
        problems.add(`${at}: invented — no event in the exported chains records this ${NOUN[kind]}`);
        continue;
      }
      const out: [string, unknown, unknown][] = [];
      if (oldFormat) for (const f of OLD_EVIDENCE_FIELDS) differences(item[f], recorded[f], f, out);
      else differences(item, recorded, '', out);
      for (const [field, inFile, inLedger] of out)
        problems.add(`${at}: ${field} is ${show(inFile)} in export.json, the ledger says ${show(inLedger)}`);
    }
    if (oldFormat) continue;
    for (const id of ledger.keys())
      if (!seen.has(id))
        problems.add(
          `export.json ${kind}: ${NOUN[kind]} ${id} is in the exported chains but dropped from export.json`,
        );
  }
}

/** What export.json holds (version 2): a field beyond these would be stated with nothing to prove it. */
const DOC_FIELDS = new Set([
  'format',
  'exportVersion',
  'exportId',
  'scope',
  'createdAt',
  'includeContent',
  'checkpointSize',
  'subjects',
  'claims',
  'sources',
  'evidence',
]);
const SUBJECT_FIELDS = new Set(['type', 'id', 'length', 'headHash']);

/**
 * export.json's head (version 2): no field but those the exporter writes; its scope, includeContent and createdAt are what the
 * export's export_requested event says, its checkpointSize is the signed checkpoint's, and its
 * format and exportVersion are the version the export_scope record states.
 */
export function checkHead(
  doc: ExportDoc,
  request: ExportRequest | undefined,
  expected: { checkpointSize: number | null; version: number; format: 'bagit' | 'json' },
  problems: Problems,
): void {
  const differ = (field: string, inFile: unknown, inLedger: unknown, source: string) => {
    if (inLedger !== undefined && canonicalJson(inFile ?? null) !== canonicalJson(inLedger))
      problems.add(`export.json ${field} is ${show(inFile)}, ${source} says ${show(inLedger)}`);
  };
  const head = doc as Record<string, unknown>;
  for (const [k, v] of Object.entries(head))
    if (!DOC_FIELDS.has(k)) problems.add(`export.json ${k} is ${show(v)}: an export has no such field`);
  for (const [i, s] of doc.subjects.entries())
    for (const [k, v] of Object.entries(s))
      if (!SUBJECT_FIELDS.has(k))
        problems.add(`export.json subjects[${i}].${k} is ${show(v)}: a subject entry has no such field`);
  differ('exportVersion', head.exportVersion, expected.version, 'the export_scope record');
  differ('format', head.format, `claimtrail-export/${expected.version}`, 'the export_scope record');
  if (expected.checkpointSize !== null)
    differ('checkpointSize', head.checkpointSize, expected.checkpointSize, 'the signed checkpoint');
  if (!request) {
    problems.add(`export:${doc.exportId}'s chain has no export_requested event`);
    return;
  }
  const requested = 'export_requested';
  differ('scope', head.scope, request.scope, requested);
  differ('createdAt', head.createdAt, request.at, `${requested} (its time)`);
  // A JSON export never holds content, whatever was asked.
  differ(
    'includeContent',
    head.includeContent,
    expected.format === 'bagit' && request.includeContent,
    requested,
  );
}

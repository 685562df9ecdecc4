// export.json lists the chains a bag holds, with their lengths and heads, but export.json is
// not signed: edited together with a chain file and its proofs, it could hide an event dropped
// from the end of a chain. The export's own chain ends with export_scope, written when the
// build began and proven in the log like every other event; its list must be export.json's.
import type { ExportDoc } from './export-doc.ts';
import type { Problems } from './problems.ts';

interface Listed {
  type: string;
  id: string;
  length: number;
  headHash: string | null;
}

const key = (s: { type: string; id: string }) => `${s.type}:${s.id}`;
const describe = (s: Listed) => `${s.length} events, head ${s.headHash ?? 'none'}`;

function isListed(v: unknown): v is Listed {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s.type === 'string' &&
    typeof s.id === 'string' &&
    typeof s.length === 'number' &&
    (typeof s.headHash === 'string' || s.headHash === null)
  );
}

/**
 * Compares export.json's subjects with the export_scope record at the end of the export's own
 * chain (`lastBody`: that chain's last line, already checked for canonical form, links and
 * inclusion by checkLedger). Returns how many subjects the record vouches for, and the export
 * format version it states (null: made before version 2, or no usable record).
 */
export function checkScopeRecord(
  doc: ExportDoc,
  lastBody: string | undefined,
  problems: Problems,
): { vouched: number; exportVersion: number | null } {
  const none = { vouched: 0, exportVersion: null };
  const own = doc.subjects.find((s) => s.type === 'export' && s.id === doc.exportId);
  if (!own) {
    problems.add(
      `export.json does not list the export's own chain (export:${doc.exportId}): no record in the log says which chains, and how long, this export holds. Either that chain was removed, or the bag was made before exports recorded their scope (export_scope, claimtrail 0.1 of 2026-11): such a bag cannot prove its chains are complete, so it fails; export again from the server for one that can`,
    );
    return none;
  }
  let body: { type?: unknown; data?: { subjects?: unknown; exportVersion?: unknown } } | undefined;
  try {
    body = lastBody === undefined ? undefined : JSON.parse(lastBody);
  } catch {
    body = undefined;
  }
  if (body?.type !== 'export_scope' || !Array.isArray(body.data?.subjects)) {
    problems.add(`the last event of export:${doc.exportId} is not its export_scope record`);
    return none;
  }
  const recorded = body.data.subjects.filter(isListed);
  if (recorded.length !== body.data.subjects.length) {
    problems.add(`export:${doc.exportId}'s export_scope record has malformed entries`);
    return none;
  }
  const byKey = new Map(recorded.map((s) => [key(s), s]));
  const listed = doc.subjects.filter((s) => s !== own);
  for (const s of listed) {
    const r = byKey.get(key(s));
    if (!r) problems.add(`export.json lists ${key(s)}, which the export_scope record does not`);
    else if (r.length !== s.length || r.headHash !== s.headHash)
      problems.add(
        `export.json says ${key(s)} has ${describe(s)}; the export_scope record in the log says ${describe(r)}`,
      );
    byKey.delete(key(s));
  }
  for (const r of byKey.values())
    problems.add(`the export_scope record lists ${key(r)} (${describe(r)}), which export.json does not`);
  const version = body.data.exportVersion;
  return { vouched: recorded.length, exportVersion: typeof version === 'number' ? version : null };
}

// What every export format receives: the gathered scope, the ledger rows and proofs, the
// checkpoint they are proven against, the blob store for content, and a progress callback.
import type pg from 'pg';
import type { WitnessedCheckpoint } from '../anchors/witness/export-cosignatures.ts';
import { hashReader } from '../log/log.repository.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { proveRecords } from './batch-proofs.ts';
import { type LedgerRow, streamLedger } from './export-ledger.ts';
import type { GatheredScope } from './export-scope.ts';
import type { ExportView, LedgerView } from './ledger-view.ts';

export interface ExportInput {
  exportId: string;
  scope: { claimId?: string; investigationId?: string };
  createdAt: string;
  includeContent: boolean;
  gathered: GatheredScope;
  checkpoint: { size: number; note: string; origin: string };
  verifierKey: string;
  /** Witness cosignatures of this checkpoint or a later one (bags only; issue 15). */
  witnessed?: WitnessedCheckpoint;
  pool: pg.Pool;
  blobs: BlobStore;
  /** Called with units of work done (one per event, one per content byte). */
  advance(units: number): void;
}

export interface ProvenRow extends LedgerRow {
  proof: string[];
}

const PROOF_BATCH = 1_000;

/** The exported events with their inclusion proofs, in (subject, seq) order. */
export async function* provenLedger(input: ExportInput): AsyncGenerator<ProvenRow[]> {
  const read = hashReader(input.pool);
  for await (const rows of streamLedger(input.pool, input.gathered.subjects)) {
    for (let i = 0; i < rows.length; i += PROOF_BATCH) {
      const batch = rows.slice(i, i + PROOF_BATCH);
      const proofs = await proveRecords(
        input.checkpoint.size,
        batch.map((r) => Number(r.log_index)),
        read,
      );
      yield batch.map((r, k) => ({ ...r, proof: proofs[k]!.map((h) => h.toString('base64')) }));
    }
  }
}

/** One evidence item per distinct content (the bag holds each sha256 once). */
export function distinctContent<T extends { sha256: string }>(evidence: readonly T[]): T[] {
  const bySha = new Map<string, T>();
  for (const e of evidence) if (!bySha.has(e.sha256)) bySha.set(e.sha256, e);
  return [...bySha.values()];
}

/** The export format version: 2 = export.json's claims, sources and evidence are the
 * projection of the exported chains (ledger-view.ts), and the verifier holds them to it.
 * 3 = the same layout; its events may hold what version 2's event catalogue refuses (citations
 * expecting capturedBefore, location or dateToleranceHours; a claimant's timeZone; checks of
 * matches and claim dates ride the existing check shape), so a version-2 verifier says
 * "update claimtrail" instead of calling the bag forged. Version-2 bags verify as before. */
export const EXPORT_VERSION = 3;

/** The document describing the export (BagIt `data/export.json`, the JSON format's head),
 * without the view (claims, sources, evidence), which is folded while the events stream. */
export const exportHead = (input: ExportInput) => ({
  format: `claimtrail-export/${EXPORT_VERSION}`,
  exportVersion: EXPORT_VERSION,
  exportId: input.exportId,
  scope: input.scope,
  createdAt: input.createdAt,
  includeContent: input.includeContent,
  checkpointSize: input.checkpoint.size,
  subjects: input.gathered.subjects,
});

/** The view the builder writes, failing the build if an exported event cannot be folded
 * (the verifier would then refuse the export). */
export function exportView(view: LedgerView): ExportView {
  if (view.problems.length > 0) throw new Error(`export view: ${view.problems.slice(0, 5).join('; ')}`);
  return view.view();
}

/** The whole document: the head and the view of the exported events. */
export const exportDocument = (input: ExportInput, view: ExportView) => ({
  ...exportHead(input),
  ...view,
});

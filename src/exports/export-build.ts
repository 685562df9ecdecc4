// Building one export (job export.build): gather the scope, wait until every exported event
// is in the Merkle log, then stream the chosen format into the blob store (hashed in the same
// pass) and record the result in the export's own chain. Progress moves from 0 to 1 as events
// and content bytes are written.
import { PassThrough } from 'node:stream';
import type pg from 'pg';
import type { Logger } from 'pino';
import { witnessedCheckpointFor } from '../anchors/witness/export-cosignatures.ts';
import type { AppContext } from '../context.ts';
import { writeTransaction } from '../db/unit-of-work.ts';
import { appendEvent } from '../ledger/ledger.repository.ts';
import { openCheckpoint } from '../log/checkpoint.ts';
import { latestCheckpoint } from '../log/log.repository.ts';
import { publishedVerifierKey } from '../log/published-key.ts';
import { writeBag } from './bag-export.ts';
import { csvLines } from './csv-export.ts';
import { EXPORT_VERSION, type ExportInput } from './export-context.ts';
import { unintegratedCount } from './export-ledger.ts';
import { gatherScope, type SubjectHead } from './export-scope.ts';
import {
  completeExportRow,
  failExportRow,
  markExportRunning,
  readExport,
  recordedScope,
  requestedAt,
  setExportProgress,
} from './exports-store.ts';
import { jsonChunks } from './json-export.ts';

const VERSION = '0.1.0';
/** How long an export waits for the sequencer to integrate its events. */
const INTEGRATION_WAIT_MS = 5 * 60_000;
const PROGRESS_EVERY_MS = 500;

export class ExportRetry extends Error {
  override name = 'ExportRetry';
}

export async function buildExport(ctx: AppContext, exportId: string, log: Logger) {
  const { pool, blobs } = ctx;
  const row = await readExport(pool, exportId);
  if (!row) throw new Error(`no export ${exportId}`);
  if (row.status === 'completed' || row.status === 'failed') return { skipped: true };
  if (!(await markExportRunning(pool, exportId, new Date()))) return { skipped: true };

  const scope = row.claimId ? { claimId: row.claimId } : { investigationId: row.investigationId };
  const gathered = await gatherScope(pool, {
    claimId: row.claimId ?? undefined,
    investigationId: row.investigationId,
  });
  // The chains and lengths this export holds, recorded in its own chain (in the log) so the
  // verifier can tell a complete chain from a truncated one; a retried build keeps the first
  // attempt's record. The export's own chain, up to that record, goes in the export too.
  const fixed = await fixScope(pool, exportId, gathered.subjects);
  gathered.subjects = [...fixed.subjects, fixed.exportChain];
  const deadline = Date.now() + INTEGRATION_WAIT_MS;
  while ((await unintegratedCount(pool, gathered.subjects)) > 0) {
    if (Date.now() > deadline)
      throw new ExportRetry('the sequencer has not integrated the exported events yet');
    await new Promise((r) => setTimeout(r, 250));
  }
  const cp = await latestCheckpoint(pool);
  if (!cp) throw new ExportRetry('the log has no checkpoint yet');
  const verifierKey = await publishedVerifierKey(pool, cp.note);
  if (!verifierKey)
    throw new ExportRetry('no verifier key the sequencer published verifies the latest checkpoint yet');
  const { origin } = openCheckpoint(cp.note, verifierKey).checkpoint;

  const events = gathered.subjects.reduce((n, s) => n + s.length, 0);
  const contentBytes = row.includeContent && row.format === 'bagit' ? gathered.contentBytes : 0;
  // Bags write each event twice (chain file, proof line); JSON and CSV read each once.
  const total = row.format === 'bagit' ? 2 * events + contentBytes : events;
  let done = 0;
  let lastWrite = Date.now();
  const advance = (units: number) => {
    done += units;
    if (Date.now() - lastWrite < PROGRESS_EVERY_MS) return;
    lastWrite = Date.now();
    const progress = Math.min(0.99, total > 0 ? done / total : 0);
    setExportProgress(pool, exportId, progress).catch(() => {});
  };

  const input: ExportInput = {
    exportId,
    scope,
    createdAt: (await requestedAt(pool, exportId)) ?? row.createdAt.toISOString(),
    includeContent: row.format === 'bagit' ? row.includeContent : false,
    gathered,
    checkpoint: { size: cp.size, note: cp.note, origin },
    verifierKey,
    // With witnesses configured, their cosignatures follow the checkpoint within a request's time.
    witnessed:
      row.format === 'bagit' && ctx.config.WITNESSES.length > 0
        ? await witnessedCheckpointFor(
            pool,
            cp.size,
            ctx.config.WITNESSES.length,
            ctx.config.WITNESS_TIMEOUT_MS + 2 * ctx.config.SEQUENCER_INTERVAL_MS,
          )
        : undefined,
    pool,
    blobs,
    advance,
  };
  const out = new PassThrough();
  const stored = blobs.put(out, { tmpKey: `export-${exportId}` });
  stored.catch(() => {});
  try {
    if (row.format === 'bagit') await writeBag(out, input, VERSION);
    else {
      for await (const chunk of row.format === 'json' ? jsonChunks(input) : csvLines(input)) {
        if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
      }
      out.end();
    }
  } catch (err) {
    out.destroy(err as Error);
    throw err;
  }
  const blob = await stored;
  const completed = await writeTransaction(pool, async (tx) => {
    // One timestamp for the row and its event.
    const at = new Date();
    if (!(await completeExportRow(tx, { id: exportId, sha256: blob.sha256, size: blob.size, at })))
      return false; // failed meanwhile (by the export sweep): that stays the record
    await appendEvent(tx, {
      subject: { type: 'export', id: exportId },
      type: 'export_completed',
      actor: `worker:export`,
      data: { sha256: blob.sha256, size: blob.size, checkpointSize: cp.size },
      at,
    });
    return true;
  });
  if (!completed) {
    log.warn({ exportId }, 'export built, but it had ended meanwhile: not recorded');
    return { skipped: true };
  }
  log.info(
    { exportId, format: row.format, events, sha256: blob.sha256, size: blob.size },
    'export completed',
  );
  return { sha256: blob.sha256, size: blob.size, events };
}

/** Records a failed export (the last attempt, or a failure no retry can heal); nothing when
 * it has already ended. */
export async function failExport({ pool }: Pick<AppContext, 'pool'>, exportId: string, reason: string) {
  const error = reason.slice(0, 2000);
  await writeTransaction(pool, async (tx) => {
    const at = new Date();
    if (!(await failExportRow(tx, { id: exportId, error, at }))) return;
    await appendEvent(tx, {
      subject: { type: 'export', id: exportId },
      type: 'export_failed',
      actor: 'worker:export',
      data: { reason: error },
      at,
    });
  });
}

/** The export_scope record of this export: the one written earlier, or a new one. Read and
 * written under one lock, so two builds of an export (a retry overlapping a stalled attempt)
 * record one scope. */
async function fixScope(pool: pg.Pool, exportId: string, subjects: SubjectHead[]) {
  return writeTransaction(pool, async (tx) => {
    await tx.lock(`export-scope:${exportId}`);
    const found = await recordedScope(tx, exportId);
    if (found) {
      return {
        subjects: found.data.subjects,
        exportChain: { type: 'export' as const, id: exportId, length: found.seq, headHash: found.hash },
      };
    }
    const recorded = subjects.map(({ type, id, length, headHash }) => ({ type, id, length, headHash }));
    const event = await appendEvent(tx, {
      subject: { type: 'export', id: exportId },
      type: 'export_scope',
      actor: 'worker:export',
      data: { exportVersion: EXPORT_VERSION, subjects: recorded },
    });
    return {
      subjects,
      exportChain: { type: 'export' as const, id: exportId, length: event.seq, headHash: event.hash },
    };
  });
}

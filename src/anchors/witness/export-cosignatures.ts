// What an export carries of the witnesses (issue 15 part 4): the first checkpoint at or after
// the bag's own that witnesses cosigned, with its cosignature lines, and the consistency proof
// from the bag's checkpoint to it (empty when it is the same one). Files under
// data/log/witness/ (src/exports/bag/export-layout.ts); verified offline by
// src/exports/verify/witness-check.ts.
import type pg from 'pg';
import { hashReader } from '../../log/log.repository.ts';
import { proveTree } from '../../log/merkle.ts';
import { bestCosignedFrom, cosignaturesOf, withCosignatures } from './cosignature-store.ts';

export interface WitnessedCheckpoint {
  /** The bag's checkpoint size (the proof's `from`). */
  from: number;
  /** The cosigned checkpoint's size (the proof's `to`), ≥ from. */
  size: number;
  /** That checkpoint's signed note with the cosignature lines appended. */
  note: string;
  /** Consistency proof from → size, base64 hashes. */
  proof: string[];
  /** Names of the witnesses whose cosignatures the note carries. */
  witnesses: string[];
}

/**
 * The witnessed checkpoint for a bag signed at `size`. Cosignatures arrive a moment after the
 * checkpoint they cover, so this waits up to `waitMs` for a checkpoint at or after `size` that
 * all `witnesses` cosigned, then takes the one most of them cosigned; undefined if none did (the
 * bag then carries no witness files and bag-info.txt says nothing of witnesses).
 */
export async function witnessedCheckpointFor(
  pool: pg.Pool,
  size: number,
  witnesses: number,
  waitMs: number,
): Promise<WitnessedCheckpoint | undefined> {
  const deadline = Date.now() + waitMs;
  let best = await bestCosignedFrom(pool, size);
  while ((best?.witnesses ?? 0) < witnesses && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    best = await bestCosignedFrom(pool, size);
  }
  if (!best) return undefined;
  const found = best.size;
  const { rows } = await pool.query<{ note: string; root_hash: Buffer }>(
    'SELECT note, root_hash FROM log_checkpoints WHERE size = $1',
    [found],
  );
  const cp = rows[0];
  if (!cp) return undefined;
  const cosignatures = await cosignaturesOf(pool, found, cp.root_hash);
  const proof = found === size || size === 0 ? [] : await proveTree(found, size, hashReader(pool));
  return {
    from: size,
    size: found,
    note: withCosignatures(cp.note, cosignatures),
    proof: proof.map((h) => h.toString('base64')),
    witnesses: [...new Set(cosignatures.map((c) => c.name))],
  };
}

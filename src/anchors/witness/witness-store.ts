// `claimtrail witness`'s state in Postgres (witness_logs): per followed log, the size, root and
// note of the latest checkpoint it cosigned. The check of the old size and the write of the
// new head are one statement — a compare-and-swap on (size, root) — so two requests can never
// both advance from the same head, and a slower one can never roll the head back (the race
// C2SP tlog-witness describes).
import type { Queryable } from '../../log/log.repository.ts';

export interface WitnessedHead {
  size: number;
  rootHash: Buffer;
  /** The cosigned checkpoint: its text, the log's verified signatures, our cosignature. */
  note: string;
}

/** The latest head cosigned for `origin`, or undefined before its first cosignature. */
export async function witnessedHead(db: Queryable, origin: string): Promise<WitnessedHead | undefined> {
  const { rows } = await db.query<{ size: string; root_hash: Buffer; note: string }>(
    'SELECT size, root_hash, note FROM witness_logs WHERE origin = $1',
    [origin],
  );
  const r = rows[0];
  return r && { size: Number(r.size), rootHash: r.root_hash, note: r.note };
}

/**
 * Moves `origin`'s head from `from` (undefined: none yet) to `to`, only if it still is `from`.
 * Returns false when another request moved it first: the caller re-reads and answers 409.
 */
export async function advanceHead(
  db: Queryable,
  origin: string,
  from: WitnessedHead | undefined,
  to: WitnessedHead,
): Promise<boolean> {
  const result = from
    ? await db.query(
        `UPDATE witness_logs SET size = $2, root_hash = $3, note = $4, updated_at = now()
         WHERE origin = $1 AND size = $5 AND root_hash = $6`,
        [origin, to.size, to.rootHash, to.note, from.size, from.rootHash],
      )
    : await db.query(
        `INSERT INTO witness_logs (origin, size, root_hash, note) VALUES ($1, $2, $3, $4)
         ON CONFLICT (origin) DO NOTHING`,
        [origin, to.size, to.rootHash, to.note],
      );
  return result.rowCount === 1;
}

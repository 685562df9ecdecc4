// Reads of the Merkle log's stored hashes, entries and checkpoints (pg, raw SQL: one
// round trip per proof thanks to the tlog stored-hash layout).
import type pg from 'pg';
import type { HashReader } from './merkle.ts';

export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/** A HashReader over log_hashes: one `= ANY` query, hashes returned in request order. */
export function hashReader(db: Queryable): HashReader {
  return async (indexes) => {
    if (indexes.length === 0) return [];
    const { rows } = await db.query<{ idx: string; hash: Buffer }>(
      // One index probe per hash: with thousands of indexes `idx = ANY($1)` flips to a
      // (parallel) sequential scan of the whole table, whose cost grows with the log.
      `SELECT w.idx, h.hash FROM unnest($1::bigint[]) AS w(idx)
       CROSS JOIN LATERAL (SELECT hash FROM log_hashes h WHERE h.idx = w.idx LIMIT 1) h`,
      [indexes],
    );
    const byIndex = new Map(rows.map((r) => [Number(r.idx), r.hash]));
    return indexes.map((i) => {
      const h = byIndex.get(i);
      if (!h) throw new Error(`log: stored hash ${i} is missing`);
      return h;
    });
  };
}

/** Number of leaves integrated so far. */
export async function treeSize(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ size: string }>(
    'SELECT coalesce(max(log_index) + 1, 0)::text AS size FROM log_entries',
  );
  return Number(rows[0]?.size ?? 0);
}

export interface CheckpointRow {
  size: number;
  rootHash: Buffer;
  note: string;
}

export async function latestCheckpoint(db: Queryable): Promise<CheckpointRow | undefined> {
  const { rows } = await db.query<{ size: string; root_hash: Buffer; note: string }>(
    'SELECT size, root_hash, note FROM log_checkpoints ORDER BY size DESC LIMIT 1',
  );
  const r = rows[0];
  return r && { size: Number(r.size), rootHash: r.root_hash, note: r.note };
}

// log_cosignatures: witness cosignatures of this log's checkpoints, each verified with the
// witness's key before it is stored (cosigner.ts). Append-only (triggers; the runtime role has
// SELECT and INSERT); a write is one statement, so it needs no transaction.
import type { Queryable } from '../../log/log.repository.ts';
import { type Cosignature, formatCosignatureLine } from './cosignature.ts';

export interface StoredCosignature extends Cosignature {
  size: number;
  rootHash: Buffer;
}

interface Row {
  witness_name: string;
  key_id: string;
  size: string;
  root_hash: Buffer;
  cosigned_at: string;
  signature: Buffer;
}

const COLUMNS = 'witness_name, key_id, size, root_hash, cosigned_at, signature';

const fromRow = (r: Row): StoredCosignature => ({
  name: r.witness_name,
  keyId: Number(r.key_id),
  size: Number(r.size),
  rootHash: r.root_hash,
  timestamp: BigInt(r.cosigned_at),
  signature: r.signature,
});

/** Stores a verified cosignature; a second one by the same key for the same size is dropped
 * (the first stays: the record never changes). */
export async function insertCosignature(db: Queryable, c: StoredCosignature): Promise<void> {
  await db.query(
    `INSERT INTO log_cosignatures (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
    [c.name, c.keyId, c.size, c.rootHash, c.timestamp.toString(), c.signature],
  );
}

/** The largest checkpoint size this witness key has cosigned for us; 0 when none. */
export async function lastCosignedSize(db: Queryable, name: string, keyId: number): Promise<number> {
  const { rows } = await db.query<{ size: string | null }>(
    'SELECT max(size)::text AS size FROM log_cosignatures WHERE witness_name = $1 AND key_id = $2',
    [name, keyId],
  );
  return Number(rows[0]?.size ?? 0);
}

/** The cosignatures of the checkpoint (size, root), by witness name. */
export async function cosignaturesOf(
  db: Queryable,
  size: number,
  rootHash: Buffer,
): Promise<StoredCosignature[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM log_cosignatures WHERE size = $1 AND root_hash = $2 ORDER BY witness_name, key_id`,
    [size, rootHash],
  );
  return rows.map(fromRow);
}

/** Of the checkpoints at or after `size`, the one cosigned by the most witnesses (the
 * smallest of equals), with how many; undefined when none is cosigned. */
export async function bestCosignedFrom(
  db: Queryable,
  size: number,
): Promise<{ size: number; witnesses: number } | undefined> {
  const { rows } = await db.query<{ size: string; n: number }>(
    `SELECT size::text AS size, count(DISTINCT witness_name)::int AS n FROM log_cosignatures
     WHERE size >= $1 GROUP BY size ORDER BY n DESC, size LIMIT 1`,
    [size],
  );
  const r = rows[0];
  return r && { size: Number(r.size), witnesses: r.n };
}

/** A signed checkpoint note with the cosignature lines appended: every key in it still opens
 * it (C2SP signed-note: verifiers ignore lines of keys they do not know). */
export function withCosignatures(note: string, cosignatures: readonly Cosignature[]): string {
  return note + cosignatures.map(formatCosignatureLine).join('');
}

// log_timestamps: written once per (checkpoint, TSA) after the reply verified, read by the
// timestamps route and by export builds. Append-only (triggers; the runtime role may only
// INSERT and SELECT).
import type { Queryable } from '../../log/log.repository.ts';

export interface StoredTimestamp {
  checkpointSize: number;
  rootHash: Buffer;
  tsaUrl: string;
  genTime: Date;
  /** TimeStampToken (CMS ContentInfo), DER. */
  token: Buffer;
  /** Certificate path, signer first, anchor last, DER each. */
  chain: Buffer[];
  /** SHA-256 of the timestamped bytes (timestamped-bytes.ts). */
  digest: Buffer;
}

interface Row {
  checkpoint_size: string;
  root_hash: Buffer;
  tsa_url: string;
  gen_time: Date;
  token: Buffer;
  chain: Buffer[] | null;
  digest: Buffer;
}

const COLUMNS = 'checkpoint_size, root_hash, tsa_url, gen_time, token, chain, digest';

const fromRow = (r: Row): StoredTimestamp => ({
  checkpointSize: Number(r.checkpoint_size),
  rootHash: r.root_hash,
  tsaUrl: r.tsa_url,
  genTime: r.gen_time,
  token: r.token,
  chain: r.chain ?? [],
  digest: r.digest,
});

/** Keeps a verified timestamp; a second one for the same checkpoint and TSA is dropped. */
export async function insertTimestamp(db: Queryable, t: StoredTimestamp): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO log_timestamps (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (checkpoint_size, tsa_url) DO NOTHING`,
    [t.checkpointSize, t.rootHash, t.tsaUrl, t.genTime, t.token, t.chain, t.digest],
  );
  return rowCount === 1;
}

/** The newest timestamp this TSA gave: its checkpoint size and when we stored it. */
export async function lastTimestampOf(
  db: Queryable,
  tsaUrl: string,
): Promise<{ size: number; storedAt: Date } | undefined> {
  const { rows } = await db.query<{ size: string; created_at: Date }>(
    `SELECT checkpoint_size AS size, created_at FROM log_timestamps WHERE tsa_url = $1
     ORDER BY checkpoint_size DESC LIMIT 1`,
    [tsaUrl],
  );
  const r = rows[0];
  return r && { size: Number(r.size), storedAt: r.created_at };
}

/** Newest checkpoint first (then by TSA URL); only `size`'s when given. */
export async function listTimestamps(
  db: Queryable,
  options: { size?: number; limit: number },
): Promise<StoredTimestamp[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM log_timestamps WHERE ($1::bigint IS NULL OR checkpoint_size = $1)
     ORDER BY checkpoint_size DESC, tsa_url LIMIT $2`,
    [options.size ?? null, options.limit],
  );
  return rows.map(fromRow);
}

/**
 * The timestamped checkpoint an export of tree size `size` carries: that size's own when it has
 * timestamps, else the next larger one that has them (it extends the bag's tree), else the
 * largest smaller one (the bag's tree extends it). Its signed note and every timestamp of it.
 */
export async function anchorFor(
  db: Queryable,
  size: number,
): Promise<{ size: number; rootHash: Buffer; note: string; timestamps: StoredTimestamp[] } | undefined> {
  const { rows } = await db.query<{ size: string; root_hash: Buffer; note: string }>(
    `SELECT c.size, c.root_hash, c.note FROM log_checkpoints c
     WHERE c.size IN (SELECT DISTINCT checkpoint_size FROM log_timestamps)
     ORDER BY (c.size = $1) DESC, (c.size > $1) DESC, abs(c.size - $1) LIMIT 1`,
    [size],
  );
  const cp = rows[0];
  if (!cp) return undefined;
  const found = await db.query<Row>(
    `SELECT ${COLUMNS} FROM log_timestamps WHERE checkpoint_size = $1 ORDER BY tsa_url`,
    [cp.size],
  );
  return {
    size: Number(cp.size),
    rootHash: cp.root_hash,
    note: cp.note,
    timestamps: found.rows.map(fromRow),
  };
}

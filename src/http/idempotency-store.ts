// The idempotency_keys table: one row per (user, key). A row is in flight (status null,
// owned by `locked_by` until `locked_until`) or completed (status and the stored response).
// Every state change is one statement, so racing requests and processes never both own a key.
import type pg from 'pg';

export interface KeyRow {
  request_hash: string;
  status: number | null;
  response_body: string | null;
  /** Completed longer than the TTL ago: the key counts as unused. */
  expired: boolean;
  /** In flight, but its lease has passed: the process that held it died. */
  abandoned: boolean;
}

export interface KeyRef {
  userId: string;
  key: string;
  /** A random id of this attempt: only the owner renews, records or releases the key. */
  owner: string;
}

// The two conditions under which a row no longer holds its key, shared by claim and lookup.
const expiredSql = (t: string, ttl: string) =>
  `(${t}.status IS NOT NULL AND ${t}.created_at <= now() - make_interval(secs => ${ttl}))`;
// A row without a lease was written by an older version (no renewals): it counts as leased
// for a minute from its creation, so a request such a process is still running keeps its key.
const abandonedSql = (t: string) =>
  `(${t}.status IS NULL AND coalesce(${t}.locked_until, ${t}.created_at + interval '1 minute') <= now())`;
const leaseSql = (ms: string) => `now() + make_interval(secs => ${ms}::double precision / 1000)`;

export class IdempotencyStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly ttlSeconds: number,
    private readonly leaseMs: number,
  ) {}

  /**
   * Takes the key for this attempt: a new key, an expired record or an abandoned lease are
   * taken in one INSERT … ON CONFLICT DO UPDATE … WHERE (the conflicting row is locked and
   * re-checked, so of two racing takers exactly one gets it). False when someone holds it.
   */
  async claim(ref: KeyRef, requestHash: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO idempotency_keys AS k (user_id, key, request_hash, locked_by, locked_until)
       VALUES ($1, $2, $3, $4, ${leaseSql('$5')})
       ON CONFLICT (user_id, key) DO UPDATE
       SET request_hash = EXCLUDED.request_hash, status = NULL, response_body = NULL,
           created_at = now(), locked_by = EXCLUDED.locked_by, locked_until = EXCLUDED.locked_until
       WHERE ${expiredSql('k', '$6')} OR ${abandonedSql('k')}
       RETURNING 1`,
      [ref.userId, ref.key, requestHash, ref.owner, this.leaseMs, this.ttlSeconds],
    );
    return rowCount === 1;
  }

  async lookup(userId: string, key: string): Promise<KeyRow | undefined> {
    const { rows } = await this.pool.query<KeyRow>(
      `SELECT request_hash, status, response_body,
              ${expiredSql('k', '$3')} AS expired, ${abandonedSql('k')} AS abandoned
       FROM idempotency_keys k WHERE user_id = $1 AND key = $2`,
      [userId, key, this.ttlSeconds],
    );
    return rows[0];
  }

  /** Extends the lease of a request still running. */
  async renew(ref: KeyRef): Promise<void> {
    await this.pool.query(
      `UPDATE idempotency_keys SET locked_until = ${leaseSql('$4')}
       WHERE user_id = $1 AND key = $2 AND locked_by = $3 AND status IS NULL`,
      [ref.userId, ref.key, ref.owner, this.leaseMs],
    );
  }

  /** Stores the response to replay (already stripped of secrets) and ends the lease. */
  async record(ref: KeyRef, status: number, responseBody: string): Promise<void> {
    await this.pool.query(
      `UPDATE idempotency_keys SET status = $4, response_body = $5, locked_by = NULL, locked_until = NULL
       WHERE user_id = $1 AND key = $2 AND locked_by = $3 AND status IS NULL`,
      [ref.userId, ref.key, ref.owner, status, responseBody],
    );
  }

  /** Frees the key for a retry (the request failed or never produced a response). */
  async release(ref: KeyRef): Promise<void> {
    await this.pool.query(
      'DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND locked_by = $3 AND status IS NULL',
      [ref.userId, ref.key, ref.owner],
    );
  }

  /** Deletes up to `limit` expired records and abandoned rows older than the TTL. */
  async deleteExpired(limit: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM idempotency_keys WHERE (user_id, key) IN (
         SELECT user_id, key FROM idempotency_keys k
         WHERE k.created_at <= now() - make_interval(secs => $1)
           AND (k.status IS NOT NULL OR ${abandonedSql('k')})
         LIMIT $2)`,
      [this.ttlSeconds, limit],
    );
    return rowCount ?? 0;
  }
}

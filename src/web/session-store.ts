// SQL of web app sessions (table web_sessions). Writes take the unit of work's WriteTx; the
// per-request lookup is one plain-pg query, like API token authentication.
import type pg from 'pg';
import type { Principal } from '../access/principal.ts';
import type { WriteTx } from '../db/unit-of-work.ts';

export interface LiveTokenRow {
  tokenId: string;
  tokenHash: Buffer;
}

/** The unrevoked API token with this SHA-256, if any. */
export const findLiveToken = (tx: WriteTx, tokenHash: Buffer) =>
  tx.maybe<LiveTokenRow>(
    `SELECT id AS "tokenId", token_hash AS "tokenHash" FROM api_tokens
     WHERE token_hash = $1 AND revoked_at IS NULL`,
    [tokenHash],
  );

export const insertSession = (
  tx: WriteTx,
  s: { idHash: Buffer; tokenId: string; csrfToken: string; expiresAt: Date },
) =>
  tx.exec('INSERT INTO web_sessions (id_hash, token_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)', [
    s.idHash,
    s.tokenId,
    s.csrfToken,
    s.expiresAt,
  ]);

export const deleteSession = (tx: WriteTx, idHash: Buffer) =>
  tx.exec('DELETE FROM web_sessions WHERE id_hash = $1', [idHash]);

/** Removes at most `limit` expired sessions (bounded: sign-in does it in passing, no job). */
export const deleteExpiredSessions = (tx: WriteTx, limit: number) =>
  tx.exec(
    `DELETE FROM web_sessions WHERE id_hash IN
       (SELECT id_hash FROM web_sessions WHERE expires_at <= now() LIMIT $1)`,
    [limit],
  );

export interface SessionRow extends Principal {
  csrfToken: string;
  expiresAt: Date;
}

/** The live session with this id hash: not expired, its token not revoked. */
export async function findSession(pool: pg.Pool, idHash: Buffer): Promise<SessionRow | undefined> {
  const { rows } = await pool.query<SessionRow>(
    `SELECT u.id, u.name, u.role::text AS role, s.csrf_token AS "csrfToken", s.expires_at AS "expiresAt"
     FROM web_sessions s JOIN api_tokens t ON t.id = s.token_id JOIN users u ON u.id = t.user_id
     WHERE s.id_hash = $1 AND s.expires_at > now() AND t.revoked_at IS NULL`,
    [idHash],
  );
  return rows[0];
}

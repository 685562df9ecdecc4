// Users' and tokens' SQL on the write path (src/db/unit-of-work.ts): each function one
// parameterized statement in the caller's transaction. Users and tokens are never deleted; a
// revoked token keeps its row with revoked_at set.
import { newId } from '../db/ids.ts';
import type { WriteTx } from '../db/unit-of-work.ts';
import { AUTH_CHANNEL } from './auth-cache.ts';
import type { RoleName } from './users.service.ts';

export interface UserRow {
  id: string;
  name: string;
  role: RoleName;
  createdAt: Date;
}

const USER_COLUMNS = `id, name, role::text AS role, created_at AS "createdAt"`;

export function insertUser(tx: WriteTx, u: { name: string; role: RoleName; at: Date }): Promise<UserRow> {
  return tx.one<UserRow>(
    `INSERT INTO users (id, name, role, created_at) VALUES ($1, $2, $3::"Role", $4)
     RETURNING ${USER_COLUMNS}`,
    [newId(), u.name, u.role, u.at],
  );
}

/** The user, if there is one (`id` must be a uuid: check it first). */
export function findUser(tx: WriteTx, id: string): Promise<UserRow | undefined> {
  return tx.maybe<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
}

/** Stores a new token of the user: only its SHA-256, never the token. */
export async function insertToken(tx: WriteTx, t: { userId: string; hash: Buffer; at: Date }): Promise<void> {
  await tx.exec('INSERT INTO api_tokens (id, user_id, token_hash, created_at) VALUES ($1, $2, $3, $4)', [
    newId(),
    t.userId,
    t.hash,
    t.at,
  ]);
}

/** Revokes every live token of the user; how many there were. The same statement notifies
 * every API process (NOTIFY, delivered only if the transaction commits), which then drops the
 * user's cached principals (src/users/auth-cache.ts): no revocation without it. */
export async function revokeLiveTokens(tx: WriteTx, userId: string, at: Date): Promise<number> {
  const { revoked } = await tx.one<{ revoked: number }>(
    `WITH revoked AS (
       UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING 1
     )
     SELECT (SELECT count(*)::int FROM revoked) AS revoked, pg_notify('${AUTH_CHANNEL}', $1::text)::text`,
    [userId, at],
  );
  return revoked;
}

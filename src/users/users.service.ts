// Users and their tokens. Creating a user and revoking a user's tokens are ledger events of
// the user subject, committed with the rows they describe (src/db/unit-of-work.ts).
import { notFoundUnlessId } from '../access/access.ts';
import type { AppContext } from '../context.ts';
import { writeTransaction } from '../db/unit-of-work.ts';
import { appendEvent } from '../ledger/ledger.repository.ts';
import { AppError } from '../lib/errors.ts';
import { newToken } from './tokens.ts';
import { findUser, insertToken, insertUser, revokeLiveTokens } from './users-store.ts';

export const roles = ['admin', 'editor', 'auditor', 'viewer'] as const;
export type RoleName = (typeof roles)[number];

export interface CreatedUser {
  id: string;
  name: string;
  role: RoleName;
  /** Shown once; only its hash is stored. */
  token: string;
}

export async function createUser(
  { pool }: Pick<AppContext, 'pool'>,
  input: { name: string; role: RoleName },
  actor: string,
): Promise<CreatedUser> {
  const { token, hash } = newToken();
  return writeTransaction(pool, async (tx) => {
    // One timestamp for the rows and their event.
    const at = new Date();
    const user = await insertUser(tx, { name: input.name, role: input.role, at });
    await insertToken(tx, { userId: user.id, hash, at });
    await appendEvent(tx, {
      subject: { type: 'user', id: user.id },
      type: 'user_created',
      actor,
      data: { name: user.name, role: user.role },
      at,
    });
    return { id: user.id, name: user.name, role: user.role, token };
  });
}

/** Revokes every live token of a user (a ledger event of the user); returns how many.
 * An unknown user is not_found, and nothing is written. Every API process forgets the user's
 * cached principals: this one before it returns, the others when the NOTIFY that commits with
 * the revocation reaches them (src/users/auth-cache.ts). */
export async function revokeTokens(
  { pool, authCache }: Pick<AppContext, 'pool' | 'authCache'>,
  userId: string,
  actor: string,
): Promise<number> {
  notFoundUnlessId(userId, 'user');
  return writeTransaction(pool, async (tx) => {
    // Users are never deleted, so one that exists now still does at COMMIT.
    if (!(await findUser(tx, userId))) throw new AppError('not_found', `No user ${userId}.`);
    const at = new Date();
    const revoked = await revokeLiveTokens(tx, userId, at);
    // Not before COMMIT: a request of this process could cache the still-live row again.
    tx.afterCommit(() => authCache.forgetUser(userId, 'local'));
    await appendEvent(tx, {
      subject: { type: 'user', id: userId },
      type: 'user_tokens_revoked',
      actor,
      data: { revoked },
      at,
    });
    return revoked;
  });
}

export interface UserListItem {
  id: string;
  name: string;
  role: RoleName;
  createdAt: string;
  /** Tokens not revoked: 0 means the user cannot sign in until an admin gives them one. */
  activeTokens: number;
}

/** Every user (admins only), oldest id first, keyset-paginated. */
export async function listUsers(
  { pool }: Pick<AppContext, 'pool'>,
  limit: number,
  cursor?: string,
): Promise<{ items: UserListItem[]; nextCursor: string | null }> {
  const { rows } = await pool.query<{
    id: string;
    name: string;
    role: RoleName;
    created_at: Date;
    active: number;
  }>(
    `SELECT u.id, u.name, u.role::text AS role, u.created_at,
            (SELECT count(*)::int FROM api_tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL) AS active
     FROM users u WHERE $1::uuid IS NULL OR u.id > $1::uuid ORDER BY u.id LIMIT $2`,
    [cursor ?? null, limit + 1],
  );
  const page = rows.slice(0, limit).map((r) => ({
    id: r.id,
    name: r.name,
    role: r.role,
    createdAt: r.created_at.toISOString(),
    activeTokens: r.active,
  }));
  return { items: page, nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
}

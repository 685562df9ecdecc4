// Bearer-token authentication: every /v1 route but /v1/log/* knows who is asking.
import type { Request, RequestHandler } from 'express';
import type pg from 'pg';
import type { Principal } from '../access/principal.ts';
import { AppError } from '../lib/errors.ts';
import type { AuthCache } from '../users/auth-cache.ts';
import { hashMatches, hashToken, looksLikeToken } from '../users/tokens.ts';

declare global {
  namespace Express {
    interface Request {
      principal?: Readonly<Principal>;
    }
  }
}

/** Resolves the Authorization header to a user; 401 when absent, malformed or revoked. The
 * lookup is by SHA-256 of the token (unique index), so no stored secret is ever compared
 * byte by byte in application code; a token this process already resolved is answered from
 * `cache` (src/users/auth-cache.ts: what guarantees a revocation still holds). */
export function authenticate(pool: pg.Pool, cache: AuthCache): RequestHandler {
  return async (req, _res, next) => {
    const header = req.headers.authorization;
    const match = header ? /^Bearer ([^\s]+)$/i.exec(header) : null;
    if (!match?.[1] || !looksLikeToken(match[1])) {
      throw new AppError('unauthenticated', 'Send "Authorization: Bearer <token>" with a valid API token.');
    }
    const presented = hashToken(match[1]);
    const principal = await cache.resolve(presented, () => findPrincipal(pool, presented));
    if (!principal) throw new AppError('unauthenticated', 'The token is unknown or revoked.');
    req.principal = principal;
    req.log?.setBindings?.({ userId: principal.id });
    next();
  };
}

/** The user of the live token with this SHA-256: one plain-pg query (token and user joined). */
async function findPrincipal(pool: pg.Pool, presented: Buffer): Promise<Principal | undefined> {
  const { rows } = await pool.query<Principal & { token_hash: Buffer }>(
    `SELECT u.id, u.name, u.role, t.token_hash FROM api_tokens t JOIN users u ON u.id = t.user_id
     WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
    [presented],
  );
  const row = rows[0];
  // The index lookup already matched the hash; the constant-time comparison keeps the
  // guarantee independent of how the database compares bytes.
  if (!row || !hashMatches(presented, row.token_hash)) return undefined;
  return { id: row.id, name: row.name, role: row.role };
}

export function principalOf(req: Request): Readonly<Principal> {
  if (!req.principal) throw new AppError('unauthenticated', 'Authentication required.');
  return req.principal;
}

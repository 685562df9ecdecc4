// Signing in to the web app with an API token: a server-side session whose id lives only in an
// HttpOnly, SameSite=Strict cookie (Secure behind https) and only as SHA-256 in the database.
// The session resolves to the same Principal the API's bearer authentication gives, so every
// page goes through the same services and the same access checks as the REST routes.
import { createHash, randomBytes } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type pg from 'pg';
import type { Principal } from '../access/principal.ts';
import { writeTransaction } from '../db/unit-of-work.ts';
import { hashMatches, hashToken, looksLikeToken } from '../users/tokens.ts';
import {
  deleteExpiredSessions,
  deleteSession,
  findLiveToken,
  findSession,
  insertSession,
} from './session-store.ts';

export interface WebSession {
  principal: Principal;
  csrfToken: string;
  expiresAt: Date;
}

declare global {
  namespace Express {
    interface Request {
      webSession?: WebSession;
    }
  }
}

// `__Host-` binds the cookie to this host, path / and https (browsers refuse it otherwise).
const cookieName = (req: Request) => (req.secure ? '__Host-claimtrail_session' : 'claimtrail_session');
const hashSessionId = (id: string) => createHash('sha256').update(id, 'utf8').digest();
const secret = () => randomBytes(32).toString('base64url');

/** One cookie's value from the Cookie header (no dependency for a one-line format). */
export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export const cookieOptions = (req: Request, expires?: Date) => ({
  httpOnly: true,
  sameSite: 'strict' as const,
  secure: req.secure,
  path: '/',
  ...(expires ? { expires } : {}),
});

/**
 * Exchanges an API token for a session; false when the token is malformed, unknown or
 * revoked. Expired sessions are deleted in passing (100 at most), so the table needs no job.
 */
export async function signIn(
  pool: pg.Pool,
  req: Request,
  res: Response,
  token: string,
  ttlSeconds: number,
): Promise<boolean> {
  if (!looksLikeToken(token)) return false;
  const previous = readCookie(req, cookieName(req));
  const sessionId = secret();
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  const ok = await writeTransaction(pool, async (tx) => {
    const presented = hashToken(token);
    const live = await findLiveToken(tx, presented);
    if (!live || !hashMatches(presented, live.tokenHash)) return false;
    await deleteExpiredSessions(tx, 100);
    // Signing in again replaces the browser's session: a new id, the old one ends now.
    if (previous) await deleteSession(tx, hashSessionId(previous));
    await insertSession(tx, {
      idHash: hashSessionId(sessionId),
      tokenId: live.tokenId,
      csrfToken: secret(),
      expiresAt,
    });
    return true;
  });
  if (ok) res.cookie(cookieName(req), sessionId, cookieOptions(req, expiresAt));
  return ok;
}

/** Deletes the session (its id is useless from now on, even if the cookie was copied). */
export async function signOut(pool: pg.Pool, req: Request, res: Response): Promise<void> {
  const id = readCookie(req, cookieName(req));
  if (id) await writeTransaction(pool, (tx) => deleteSession(tx, hashSessionId(id)));
  res.clearCookie(cookieName(req), cookieOptions(req));
}

/** Sets req.webSession when the cookie names a live session; pages decide what a visitor
 * without one gets (the sign-in page, or 401 for a fragment). */
export function loadSession(pool: pg.Pool): RequestHandler {
  return async (req, _res, next) => {
    const id = readCookie(req, cookieName(req));
    // A session id is 43 base64url characters; anything else is not worth a query.
    if (id && /^[A-Za-z0-9_-]{43}$/.test(id)) {
      const row = await findSession(pool, hashSessionId(id));
      if (row) {
        const { csrfToken, expiresAt, ...principal } = row;
        req.webSession = { principal, csrfToken, expiresAt };
        req.log?.setBindings?.({ userId: principal.id });
      }
    }
    next();
  };
}

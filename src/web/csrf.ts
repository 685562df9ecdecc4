// CSRF protection for every form. A signed-in form carries the session's synchronizer token
// (stored with the session, compared in constant time); the sign-in form, which has no session
// yet, carries a nonce that must equal its SameSite=Strict cookie (so no other site can sign a
// browser in to an account of its choosing). SameSite=Strict session cookies are the second
// layer: this check does not rely on them.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { AppError } from '../lib/errors.ts';
import { cookieOptions, readCookie } from './session.ts';

/** The form field (and, for requests without a form body, the header) carrying the token. */
export const csrfField = '_csrf';
const csrfHeader = 'x-csrf-token';

const same = (a: string, b: string) => {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
};

function presented(req: Request): string | undefined {
  const body = req.body as Record<string, unknown> | undefined;
  const fromBody = body && typeof body[csrfField] === 'string' ? (body[csrfField] as string) : undefined;
  // A multipart upload has no field before its file that we read (src/http/multipart.ts takes
  // exactly one part), so its form carries the token in the query, as `auth`: a name the
  // request log redacts (src/lib/logger.ts).
  const fromQuery =
    req.is('multipart/form-data') && typeof req.query.auth === 'string' ? req.query.auth : undefined;
  return fromBody ?? req.get(csrfHeader) ?? fromQuery;
}

/** Refuses (403) a state-changing request of a session that does not carry its token. */
export const requireCsrf: RequestHandler = (req, _res, next) => {
  const session = req.webSession;
  const token = presented(req);
  if (!session || !token || !same(token, session.csrfToken))
    throw new AppError(
      'forbidden',
      'This form is missing its security token or comes from an expired session. Reload the page and try again.',
    );
  next();
};

const signInCookie = 'claimtrail_signin';

/** A fresh nonce for the sign-in form, also set as a short-lived cookie. */
export function issueSignInNonce(req: Request, res: Response): string {
  const nonce = randomBytes(32).toString('base64url');
  res.cookie(signInCookie, nonce, { ...cookieOptions(req), maxAge: 60 * 60 * 1000 });
  return nonce;
}

/** The sign-in form's nonce matches its cookie (then the cookie is spent). */
export function checkSignInNonce(req: Request, res: Response): void {
  const cookie = readCookie(req, signInCookie);
  const token = presented(req);
  res.clearCookie(signInCookie, cookieOptions(req));
  if (!cookie || !token || !same(cookie, token))
    throw new AppError('forbidden', 'The sign-in form expired or did not come from this app. Try again.');
}

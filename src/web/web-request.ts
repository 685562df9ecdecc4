// Who is asking, on a page: the session's principal (set by loadSession in session.ts).
import type { Request } from 'express';
import type { Principal } from '../access/principal.ts';
import { AppError } from '../lib/errors.ts';

export function principal(req: Request): Principal {
  if (!req.webSession) throw new AppError('unauthenticated', 'Sign in first.');
  return req.webSession.principal;
}

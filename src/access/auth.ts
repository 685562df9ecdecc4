// Bearer-token authentication: every /v1 route but /v1/log/* knows who is asking.
import type { Request, RequestHandler } from 'express';
import type { PrismaClient } from '../db/prisma.ts';
import { AppError } from '../lib/errors.ts';
import { hashToken, looksLikeToken } from '../users/tokens.ts';
import type { RoleName } from '../users/users.service.ts';

export interface Principal {
  id: string;
  name: string;
  role: RoleName;
}

declare global {
  namespace Express {
    interface Request {
      principal?: Principal;
    }
  }
}

/** Resolves the Authorization header to a user; 401 when absent, malformed or revoked. The
 * lookup is by SHA-256 of the token (unique index), so no stored secret is ever compared
 * byte by byte in application code. */
export function authenticate(prisma: PrismaClient): RequestHandler {
  return async (req, _res, next) => {
    const header = req.headers.authorization;
    const match = header ? /^Bearer ([^\s]+)$/i.exec(header) : null;
    if (!match?.[1] || !looksLikeToken(match[1])) {
      throw new AppError('unauthenticated', 'Send "Authorization: Bearer <token>" with a valid API token.');
    }
    const token = await prisma.apiToken.findUnique({
      where: { tokenHash: new Uint8Array(hashToken(match[1])) },
      include: { user: true },
    });
    if (!token || token.revokedAt) throw new AppError('unauthenticated', 'The token is unknown or revoked.');
    req.principal = { id: token.user.id, name: token.user.name, role: token.user.role };
    req.log?.setBindings?.({ userId: token.user.id });
    next();
  };
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw new AppError('unauthenticated', 'Authentication required.');
  return req.principal;
}

export const actorOf = (p: Principal) => `user:${p.id}`;

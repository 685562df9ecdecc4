// Users and their tokens. Creating a user is a ledger event of the user subject.
import type { PrismaClient } from '../db/prisma.ts';
import { appendEvent } from '../ledger/ledger.repository.ts';
import { newToken } from './tokens.ts';

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
  prisma: PrismaClient,
  input: { name: string; role: RoleName },
  actor: string,
): Promise<CreatedUser> {
  const { token, hash } = newToken();
  return prisma.$transaction(async (tx) => {
    const user = await tx.user.create({ data: { name: input.name, role: input.role } });
    await tx.apiToken.create({ data: { userId: user.id, tokenHash: new Uint8Array(hash) } });
    await appendEvent(tx, {
      subject: { type: 'user', id: user.id },
      type: 'user_created',
      actor,
      data: { name: user.name, role: user.role },
    });
    return { id: user.id, name: user.name, role: user.role, token };
  });
}

/** Revokes every live token of a user (a ledger event of the user); returns how many. */
export async function revokeTokens(prisma: PrismaClient, userId: string, actor: string): Promise<number> {
  return prisma.$transaction(async (tx) => {
    const { count } = await tx.apiToken.updateMany({
      where: { userId, revokedAt: null },
      data: { revokedAt: new Date() },
    });
    await appendEvent(tx, {
      subject: { type: 'user', id: userId },
      type: 'user_tokens_revoked',
      actor,
      data: { revoked: count },
    });
    return count;
  });
}

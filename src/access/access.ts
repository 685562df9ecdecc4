// Tenancy and roles in one place. A resource in an investigation the caller is not a member
// of answers 404 exactly like one that does not exist; a visible resource the caller's role
// may not act on answers 403.
import type pg from 'pg';
import type { PrismaClient } from '../db/prisma.ts';
import { AppError } from '../lib/errors.ts';
import type { Principal } from './principal.ts';

export type Action = 'read' | 'write' | 'export' | 'manage';

const allowed: Record<Principal['role'], readonly Action[]> = {
  admin: ['read', 'write', 'export', 'manage'],
  editor: ['read', 'write', 'export', 'manage'],
  auditor: ['read', 'export'],
  viewer: ['read'],
};

export const roleMay = (p: Principal, action: Action) => allowed[p.role].includes(action);

export function requireRole(p: Principal, action: Action, what: string): void {
  if (!roleMay(p, action)) throw new AppError('forbidden', `Your role (${p.role}) may not ${what}.`);
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are opaque to clients; anything that is not one of ours is simply not found. */
export function notFoundUnlessId(id: string, kind: string): void {
  if (!uuid.test(id)) throw new AppError('not_found', `No ${kind} ${id}.`);
}

/** Resolves when `p` may see investigation `investigationId`; 404 otherwise. */
export async function assertMember(
  prisma: PrismaClient,
  p: Principal,
  investigationId: string,
  kind: string,
  id: string,
) {
  if (p.role === 'admin') return;
  const m = await prisma.membership.findUnique({
    where: { investigationId_userId: { investigationId, userId: p.id } },
    select: { userId: true },
  });
  if (!m) throw new AppError('not_found', `No ${kind} ${id}.`);
}

/**
 * assertMember and the investigation's existence in one plain-pg query, for hot write paths
 * (POST claim) where two Prisma reads cost more CPU than the write itself. Resolves when the
 * investigation exists and `p` may see it (admins see every one); 404 otherwise.
 */
export async function assertInvestigationVisible(
  pool: pg.Pool,
  p: Principal,
  investigationId: string,
  kind: string,
  id: string,
): Promise<void> {
  notFoundUnlessId(investigationId, 'investigation');
  const { rows } = await pool.query<{ member: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM memberships m WHERE m.investigation_id = i.id AND m.user_id = $2) AS member
     FROM investigations i WHERE i.id = $1`,
    [investigationId, p.id],
  );
  const row = rows[0];
  if (!row || (!row.member && p.role !== 'admin')) throw new AppError('not_found', `No ${kind} ${id}.`);
}

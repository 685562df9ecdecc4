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
 * The SQL condition "investigation `alias` is visible to the caller" (the rule of assertMember:
 * admins see every investigation, others those they are members of), for statements that
 * check visibility as they read or write: `userParam` holds the caller's id, `adminParam`
 * whether the caller is an admin (e.g. `$2`, `$3`; their values: visibilityParams(p)).
 */
export const investigationVisibleSql = (alias: string, userParam: string, adminParam: string) =>
  `(${adminParam}::boolean OR EXISTS (SELECT 1 FROM memberships m WHERE m.investigation_id = ${alias}.id AND m.user_id = ${userParam}::uuid))`;

/** The values of investigationVisibleSql's two parameters, in its order. */
export const visibilityParams = (p: Principal): [string, boolean] => [p.id, p.role === 'admin'];

/**
 * assertMember and the investigation's existence in one plain-pg query, for hot write paths
 * (POST claim) where two Prisma reads cost more CPU than the write itself. Resolves when the
 * investigation exists and `p` may see it; 404 otherwise.
 */
export async function assertInvestigationVisible(
  pool: pg.Pool,
  p: Principal,
  investigationId: string,
  kind: string,
  id: string,
): Promise<void> {
  notFoundUnlessId(investigationId, 'investigation');
  const { rows } = await pool.query<{ visible: boolean }>(
    `SELECT ${investigationVisibleSql('i', '$2', '$3')} AS visible FROM investigations i WHERE i.id = $1`,
    [investigationId, ...visibilityParams(p)],
  );
  if (!rows[0]?.visible) throw new AppError('not_found', `No ${kind} ${id}.`);
}

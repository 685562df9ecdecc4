// Export requests and their status: who may ask (admin, editor, auditor members), who may see
// and download one (its requester and admins; anyone else gets 404, as if it did not exist).
import { z } from 'zod';
import { notFoundUnlessId, requireRole } from '../access/access.ts';
import { actorOf, type Principal } from '../access/principal.ts';
import { visibleClaim } from '../claims/claims.service.ts';
import type { AppContext } from '../context.ts';
import type { PrismaClient } from '../db/prisma.ts';
import { writeTransaction } from '../db/unit-of-work.ts';
import { getInvestigation } from '../investigations/investigations.service.ts';
import { appendEvent } from '../ledger/ledger.repository.ts';
import { AppError } from '../lib/errors.ts';
import type { Queues } from '../queue/queues.ts';
import type { ExportView } from './export-view.schema.ts';
import { type ExportRow, insertExport } from './exports-store.ts';

export const exportInput = z
  .strictObject({
    claimId: z.string().optional(),
    investigationId: z.string().optional(),
    format: z.enum(['bagit', 'json', 'csv']),
    includeContent: z.boolean().optional(),
  })
  .refine((v) => (v.claimId === undefined) !== (v.investigationId === undefined), {
    message: 'give exactly one of claimId and investigationId',
    path: ['claimId'],
  });
export type ExportInputBody = z.infer<typeof exportInput>;

export const exportView = (e: ExportRow): ExportView => ({
  id: e.id,
  status: e.status,
  progress: e.progress,
  format: e.format,
  scope: e.claimId ? { claimId: e.claimId } : { investigationId: e.investigationId },
  includeContent: e.includeContent,
  requestedBy: e.requestedBy,
  createdAt: e.createdAt.toISOString(),
  completedAt: e.completedAt?.toISOString() ?? null,
  ...(e.sha256 ? { sha256: e.sha256 } : {}),
  ...(e.size !== null ? { size: Number(e.size) } : {}),
  ...(e.error ? { error: e.error } : {}),
});

/** BullMQ custom ids may not contain ':'; a uuid never does. One job per export. */
export const exportJobId = (exportId: string) => `export-${exportId}`;

export async function enqueueExport(queues: Queues, exportId: string): Promise<void> {
  await queues.enqueue('export.build', { exportId }, { jobId: exportJobId(exportId) });
}

/** Validates the scope the caller may see, then records the export and queues its build
 * after the commit (a lost enqueue is repaired by the export sweep, export-sweep.ts). */
export async function requestExport(
  ctx: Pick<AppContext, 'prisma' | 'pool' | 'queues' | 'log'>,
  p: Principal,
  body: ExportInputBody,
) {
  const investigationId = body.claimId
    ? (await visibleClaim(ctx.prisma, p, body.claimId)).investigationId
    : (await getInvestigation(ctx.prisma, p, body.investigationId!)).id;
  requireRole(p, 'export', 'export');
  const includeContent = body.includeContent ?? true;
  return writeTransaction(ctx.pool, async (tx) => {
    // One timestamp for the row and export_requested: export.json's createdAt is proven by it.
    const at = new Date();
    const row = await insertExport(tx, {
      requestedBy: p.id,
      investigationId,
      claimId: body.claimId ?? null,
      format: body.format,
      includeContent,
      at,
    });
    await appendEvent(tx, {
      subject: { type: 'export', id: row.id },
      type: 'export_requested',
      actor: actorOf(p),
      data: {
        scope: body.claimId ? { claimId: body.claimId } : { investigationId },
        format: body.format,
        includeContent,
      },
      at,
    });
    tx.afterCommit(() =>
      enqueueExport(ctx.queues, row.id).catch((err: Error) =>
        ctx.log.warn({ exportId: row.id, err: err.message }, 'export not enqueued'),
      ),
    );
    return exportView(row);
  });
}

/** The caller's export rows (every export for admins), newest first, keyset-paginated by id. */
export async function listExports(prisma: PrismaClient, p: Principal, limit: number, cursor?: string) {
  const rows = await prisma.export.findMany({
    where: {
      ...(p.role === 'admin' ? {} : { requestedBy: p.id }),
      ...(cursor ? { id: { lt: cursor } } : {}),
    },
    orderBy: { id: 'desc' },
    take: limit + 1,
  });
  const page = rows.slice(0, limit);
  return { rows: page, nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
}

/** The export if `p` asked for it or is an admin; 404 otherwise. */
export async function visibleExport(prisma: PrismaClient, p: Principal, id: string) {
  notFoundUnlessId(id, 'export');
  const row = await prisma.export.findUnique({ where: { id } });
  if (!row || (row.requestedBy !== p.id && p.role !== 'admin'))
    throw new AppError('not_found', `No export ${id}.`);
  return row;
}

export const exportFileName = (e: ExportRow) =>
  `claimtrail-export-${e.id}.${e.format === 'bagit' ? 'zip' : e.format}`;
export const exportMediaType = (e: ExportRow) =>
  e.format === 'bagit'
    ? 'application/zip'
    : e.format === 'json'
      ? 'application/json'
      : 'text/csv; charset=utf-8';

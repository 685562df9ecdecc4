// Exports: request one (from a claim or an investigation page), watch its progress live,
// download it, and a "verify it offline" panel with the exact command and the log's verifier
// key. Who sees an export is the service's rule: its requester and admins (404 for others).
import { Router } from 'express';
import type { AppContext } from '../context.ts';
import {
  exportFileName,
  exportInput,
  exportView,
  requestExport,
  visibleExport,
} from '../exports/exports.service.ts';
import { sendExportFile } from '../http/blob-response.ts';
import { latestCheckpoint } from '../log/log.repository.ts';
import { publishedVerifierKey } from '../log/published-key.ts';
import { compact, field, parseForm } from './forms.ts';
import { listMyExports } from './queries.ts';
import { renderFragment, renderPage } from './render.ts';
import { principal } from './web-request.ts';

export function exportPages(ctx: AppContext) {
  const { prisma } = ctx;
  const router = Router();

  /** The key that verifies the latest checkpoint (what GET /v1/log/key answers), if any yet. */
  const verifierKey = async () => {
    const cp = await latestCheckpoint(ctx.pool);
    return (cp && (await publishedVerifierKey(ctx.pool, cp.note))) ?? null;
  };

  router.get('/exports', async (req, res) => {
    renderPage(req, res, 'exports', {
      title: 'Exports',
      exports: await listMyExports(prisma, principal(req)),
    });
  });

  router.post('/exports', async (req, res) => {
    const body = parseForm(
      exportInput,
      compact({
        claimId: field(req, 'claimId'),
        investigationId: field(req, 'investigationId'),
        format: field(req, 'format'),
        includeContent:
          field(req, 'includeContent') === undefined ? undefined : field(req, 'includeContent') === 'yes',
      }),
    );
    const view = await requestExport(ctx, principal(req), body);
    res.redirect(303, `/exports/${view.id}`);
  });

  const progressData = async (id: string, req: Parameters<typeof principal>[0]) => {
    const row = await visibleExport(prisma, principal(req), id);
    return { exp: exportView(row), fileName: exportFileName(row) };
  };

  router.get('/exports/:id', async (req, res) => {
    const data = await progressData(req.params.id, req);
    renderPage(req, res, 'export', {
      title: `Export ${data.exp.format}`,
      ...data,
      key: await verifierKey(),
    });
  });

  // Polled while the export is queued or running; the final fragment carries no trigger.
  router.get('/exports/:id/progress', async (req, res) => {
    renderFragment(req, res, 'partials/export-progress', await progressData(req.params.id, req));
  });

  router.get('/exports/:id/download', async (req, res) => {
    await sendExportFile(ctx, res, await visibleExport(prisma, principal(req), req.params.id));
  });

  return router;
}

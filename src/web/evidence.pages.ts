// Evidence: a metadata table, a preview and a download. The preserved bytes are hostile
// content: they are served with `Content-Security-Policy: sandbox` (an opaque origin with no
// scripts, no forms, no plugins, no network), so a captured page shown in the evidence page's
// frame, or opened alone, cannot run script in the app's origin, read its cookie or touch its
// DOM. The frame is sandboxed by its attribute as well. Each read of the bytes is a ledger
// event (readEvidenceContent), as through the API; a revalidation (If-None-Match) is not.
import { Router } from 'express';
import type { AppContext } from '../context.ts';
import { getEvidence, visibleEvidence } from '../evidence/evidence.service.ts';
import { sendEvidenceContent } from '../http/blob-response.ts';
import { visibleSource } from '../sources/sources.service.ts';
import { renderPage } from './render.ts';
import { previewOf } from './source-card.ts';
import { principal } from './web-request.ts';
import { type CheckLike, checkWords } from './words.ts';

/** Evidence bytes in the browser: no script, no same-origin access, nothing fetched; inline
 * styles only, so a captured page stays readable. Only our own pages may frame it. */
export const evidenceContentPolicy =
  "sandbox; default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'";

/** Metadata as rows: nested values are shown as JSON text. */
function metadataRows(metadata: unknown): { key: string; value: string }[] {
  if (!metadata || typeof metadata !== 'object') return [];
  return Object.entries(metadata as Record<string, unknown>).map(([key, value]) => ({
    key,
    value: typeof value === 'string' ? value : JSON.stringify(value),
  }));
}

export function evidencePages(ctx: AppContext) {
  const { prisma } = ctx;
  const router = Router();

  router.get('/evidence/:id', async (req, res) => {
    const p = principal(req);
    const item = await getEvidence(prisma, p, req.params.id);
    const source = await visibleSource(prisma, p, item.sourceId);
    renderPage(req, res, 'evidence', {
      title: `Evidence ${item.sha256.slice(0, 12)}`,
      item,
      source: { id: source.id, normalizedUrl: source.normalizedUrl },
      preview: previewOf(item.mediaType),
      metadata: metadataRows(item.metadata),
      checks: (Array.isArray(item.checks) ? (item.checks as unknown as CheckLike[]) : []).map(checkWords),
    });
  });

  router.get('/evidence/:id/content', async (req, res) => {
    const p = principal(req);
    const item = await visibleEvidence(prisma, p, req.params.id);
    const download = req.query.download === '1';
    await sendEvidenceContent(
      ctx,
      req,
      res,
      p,
      item,
      {
        'Content-Disposition': `${download ? 'attachment' : 'inline'}; filename="${item.sha256}"`,
        'Content-Security-Policy': evidenceContentPolicy,
        'X-Frame-Options': 'SAMEORIGIN',
      },
      () => res.status(416).type('text/plain').send('Range not satisfiable'),
    );
  });

  return router;
}

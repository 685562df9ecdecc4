// The claim page: statement, claimant, date, status (editors change it), tags, the "cite a
// source" form and a card per cited source whose capture state updates live (htmx polling of
// /sources/:id/card until the capture has ended).
import { Router } from 'express';
import { citationInput, claimPatch, claimStatuses } from '../claims/claims.schema.ts';
import { citeSource, getClaim, visibleClaim } from '../claims/claims.service.ts';
import { updateClaim } from '../claims/claims-edit.service.ts';
import type { AppContext } from '../context.ts';
import { getInvestigation, investigationView } from '../investigations/investigations.service.ts';
import { sourceView, visibleSource } from '../sources/sources.service.ts';
import { compact, field, parseForm } from './forms.ts';
import { renderFragment, renderPage } from './render.ts';
import { sourceCards } from './source-card.ts';
import { principal } from './web-request.ts';

export function claimPages(ctx: AppContext) {
  const { prisma } = ctx;
  const router = Router();

  router.get('/claims/:id', async (req, res) => {
    const p = principal(req);
    const claim = await getClaim(prisma, p, req.params.id);
    const inv = investigationView(await getInvestigation(prisma, p, claim.investigationId));
    const cards = await sourceCards(
      prisma,
      p,
      claim.investigationId,
      claim.citations.map((c) => c.source!),
    );
    renderPage(req, res, 'claim', {
      title: `Claim: ${claim.statement.slice(0, 60)}`,
      claim,
      inv,
      citations: claim.citations.map((c, i) => ({ ...c, card: cards[i]! })),
      statuses: claimStatuses,
    });
  });

  router.post('/claims/:id/status', async (req, res) => {
    const p = principal(req);
    const claim = await visibleClaim(prisma, p, req.params.id); // 404 before 400/403
    await updateClaim(ctx, p, claim.id, parseForm(claimPatch, compact({ status: field(req, 'status') })));
    res.redirect(303, `/claims/${claim.id}`);
  });

  router.post('/claims/:id/sources', async (req, res) => {
    const p = principal(req);
    const claim = await visibleClaim(prisma, p, req.params.id);
    const duration = field(req, 'durationSeconds');
    const expected = compact({
      durationSeconds: duration === undefined ? undefined : Number(duration),
      mediaType: field(req, 'mediaType'),
    });
    const input = parseForm(
      citationInput,
      compact({
        url: field(req, 'url'),
        relation: field(req, 'relation'),
        expected: Object.keys(expected).length ? expected : undefined,
        note: field(req, 'note'),
      }),
    );
    await citeSource(ctx, p, claim.id, input);
    res.redirect(303, `/claims/${claim.id}#sources`);
  });

  // The live part of a source card (htmx polls it while a capture is queued or running).
  router.get('/sources/:id/card', async (req, res) => {
    const p = principal(req);
    const source = await visibleSource(prisma, p, req.params.id);
    const [card] = await sourceCards(prisma, p, source.investigationId, [await sourceView(prisma, source)]);
    renderFragment(req, res, 'partials/source-card', { card });
  });

  return router;
}

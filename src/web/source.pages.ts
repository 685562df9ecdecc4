// The source page: its custody timeline in plain words (time, actor by name, short hash, log
// index), a verification badge computed live (chain recomputed, every event proven included in
// the latest signed checkpoint: src/ledger/custody-verify.ts), and for editors recapture and
// "upload my own copy".
import { Router } from 'express';
import { z } from 'zod';
import { requireRole, roleMay } from '../access/access.ts';
import type { AppContext } from '../context.ts';
import { addUpload, captureAgain } from '../evidence/evidence.service.ts';
import { receiveUpload } from '../http/multipart.ts';
import { verifyCustody } from '../ledger/custody-verify.ts';
import { AppError } from '../lib/errors.ts';
import { sourceCustody, sourceView, visibleSource } from '../sources/sources.service.ts';
import { compact, parseForm } from './forms.ts';
import { actorNames, claimsCitingSource } from './queries.ts';
import { renderFragment, renderPage } from './render.ts';
import { sourceCards } from './source-card.ts';
import { principal } from './web-request.ts';
import { actorLabel, eventWords } from './words.ts';

const custodyPage = z.strictObject({ cursor: z.coerce.number().int().min(0).optional() });
const PAGE = 500;

/** The verdict in words, and whether it is worth asking again (events await the sequencer). */
async function badge(ctx: AppContext, sourceId: string) {
  const v = await verifyCustody(ctx, { type: 'source', id: sourceId });
  const proven = v.length - v.pending;
  let text: string;
  if (!v.valid) text = `Broken at event ${v.firstInvalidSeq}: ${v.reason}`;
  else if (v.length === 0) text = 'No events yet.';
  else if (!v.checkpoint)
    text = `Chain intact (${v.length} events); the log has not signed a checkpoint yet.`;
  else
    text = `Chain intact: ${proven === v.length ? `every event (${v.length})` : `${proven} of ${v.length} events`} included in signed checkpoint of size ${v.checkpoint.size}${
      v.pending ? `; ${v.pending} not yet in the log` : ''
    }.`;
  return { valid: v.valid, text, pending: v.pending > 0 && v.valid, headHash: v.headHash, verdict: v };
}

export function sourcePages(ctx: AppContext) {
  const { prisma } = ctx;
  const router = Router();

  router.get('/sources/:id', async (req, res) => {
    const p = principal(req);
    const source = await visibleSource(prisma, p, req.params.id);
    const { cursor } = parseForm(custodyPage, compact({ cursor: req.query.cursor as string | undefined }));
    const [view, custody, verdict] = await Promise.all([
      sourceView(prisma, source),
      sourceCustody(prisma, p, source.id, PAGE, cursor),
      badge(ctx, source.id),
    ]);
    const [card] = await sourceCards(prisma, p, source.investigationId, [view]);
    const names = await actorNames(
      prisma,
      custody.items.map((e) => e.actor),
    );
    const claims = await claimsCitingSource(prisma, p, source.id);
    renderPage(req, res, 'source', {
      title: `Source ${view.normalizedUrl}`,
      card,
      badge: verdict,
      claims,
      events: custody.items.map((e) => ({
        seq: e.seq,
        at: e.at,
        type: e.type,
        actor: actorLabel(e.actor, names),
        words: eventWords(e.type, e.data as Record<string, unknown>),
        hash: e.hash,
        logIndex: e.logIndex,
      })),
      nextCursor: custody.nextCursor,
      mayUpload: roleMay(p, 'write'),
    });
  });

  // The badge alone: polled while some events still await the sequencer.
  router.get('/sources/:id/badge', async (req, res) => {
    const source = await visibleSource(prisma, principal(req), req.params.id);
    renderFragment(req, res, 'partials/badge', { badge: await badge(ctx, source.id), sourceId: source.id });
  });

  router.post('/sources/:id/captures', async (req, res) => {
    const source = await visibleSource(prisma, principal(req), req.params.id);
    await captureAgain(ctx, principal(req), source.id);
    res.redirect(303, `/sources/${source.id}`);
  });

  router.post('/sources/:id/evidence', async (req, res) => {
    const p = principal(req);
    const source = await visibleSource(prisma, p, req.params.id);
    requireRole(p, 'write', 'add evidence');
    if (!req.is('multipart/form-data'))
      throw new AppError('unsupported_media_type', 'Choose a file and send the upload form.');
    const upload = await receiveUpload(req, ctx.blobs, ctx.config.UPLOAD_MAX_BYTES);
    const { item } = await addUpload(ctx, p, source.id, upload.blob, upload.declaredType, upload.filename);
    res.redirect(303, `/evidence/${item.id}`);
  });

  return router;
}

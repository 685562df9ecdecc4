// Captures and evidence: capture again, a journalist's upload, one item, its bytes.
import { Router } from 'express';
import { z } from 'zod';
import { requireRole } from '../../access/access.ts';
import { idParam } from '../../claims/claims.schema.ts';
import type { AppContext } from '../../context.ts';
import { addUpload, captureAgain, getEvidence, visibleEvidence } from '../../evidence/evidence.service.ts';
import { evidenceItemSchema } from '../../evidence/evidence-view.schema.ts';
import { similarEvidence } from '../../evidence/similar.service.ts';
import { similarQuerySchema, similarResponseSchema } from '../../evidence/similar-view.schema.ts';
import { AppError } from '../../lib/errors.ts';
import { captureRequestedSchema } from '../../sources/source-view.schema.ts';
import { visibleSource } from '../../sources/sources.service.ts';
import { principalOf } from '../authenticate.ts';
import { sendEvidenceContent } from '../blob-response.ts';
import { receiveUpload } from '../multipart.ts';
import { type ApiDocs, bearerAuth, jsonResponse, problemResponses } from '../openapi.ts';
import { parseBody, parseParams, parseQuery } from '../validate.ts';

const captureInput = z.strictObject({
  /** Also set (or with null clear) this source's recapture interval. */
  recaptureEverySeconds: z
    .number()
    .int()
    .min(60)
    .max(366 * 24 * 3600)
    .nullable()
    .optional(),
});

export function evidenceRouter(ctx: AppContext, docs: ApiDocs) {
  const { prisma } = ctx;
  const router = Router();
  const params = z.object({ id: z.string() });
  const security = bearerAuth;

  docs.route({
    method: 'post',
    path: '/v1/sources/{id}/captures',
    operationId: 'captureSource',
    summary: 'Capture the source again (editor); optionally set its recapture interval',
    security,
    request: { params, body: { content: { 'application/json': { schema: captureInput } } } },
    responses: {
      202: jsonResponse('the capture, queued', captureRequestedSchema),
      ...problemResponses(400, 401, 403, 404, 415),
    },
  });
  router.post('/sources/:id/captures', async (req, res) => {
    const { id } = parseParams(idParam, req);
    const p = principalOf(req);
    await visibleSource(prisma, p, id); // 404 before 400 for outsiders
    const body = parseBody(captureInput, req);
    res.status(202).json(await captureAgain(ctx, p, id, body));
  });

  docs.route({
    method: 'post',
    path: '/v1/sources/{id}/evidence',
    operationId: 'uploadEvidence',
    summary: "Add a journalist's own copy (editor): multipart/form-data with one part `file`",
    security,
    request: {
      params,
      body: {
        content: {
          'multipart/form-data': { schema: z.object({ file: z.string().meta({ format: 'binary' }) }) },
        },
      },
    },
    responses: {
      201: jsonResponse('the new evidence item', evidenceItemSchema),
      200: jsonResponse('these bytes were already evidence of the source: that item', evidenceItemSchema),
      ...problemResponses(400, 401, 403, 404, 413, 415),
    },
  });
  router.post('/sources/:id/evidence', async (req, res) => {
    const { id } = parseParams(idParam, req);
    const p = principalOf(req);
    await visibleSource(prisma, p, id);
    requireRole(p, 'write', 'add evidence');
    if (!req.is('multipart/form-data'))
      throw new AppError(
        'unsupported_media_type',
        'Send the file as multipart/form-data with one part named "file".',
      );
    const upload = await receiveUpload(req, ctx.blobs, ctx.config.UPLOAD_MAX_BYTES);
    const { item, created } = await addUpload(ctx, p, id, upload.blob, upload.declaredType, upload.filename);
    res.status(created ? 201 : 200).json(item);
  });

  docs.route({
    method: 'get',
    path: '/v1/evidence/{id}',
    operationId: 'getEvidence',
    summary: 'One evidence item',
    security,
    request: { params },
    responses: { 200: jsonResponse('evidence item', evidenceItemSchema), ...problemResponses(401, 404) },
  });
  router.get('/evidence/:id', async (req, res) => {
    res.json(await getEvidence(prisma, principalOf(req), parseParams(idParam, req).id));
  });

  docs.route({
    method: 'get',
    path: '/v1/evidence/{id}/similar',
    operationId: 'listSimilarEvidence',
    summary: 'The same (sha256) and similar (PDQ) media in the investigations the caller may see',
    security,
    request: { params, query: similarQuerySchema },
    responses: {
      200: jsonResponse('same and similar evidence items', similarResponseSchema),
      ...problemResponses(400, 401, 404),
    },
  });
  router.get('/evidence/:id/similar', async (req, res) => {
    const { id } = parseParams(idParam, req);
    const q = parseQuery(similarQuerySchema, req);
    res.json(await similarEvidence(ctx, principalOf(req), id, q));
  });

  docs.route({
    method: 'get',
    path: '/v1/evidence/{id}/content',
    operationId: 'getEvidenceContent',
    summary: 'The preserved bytes (ETag, Repr-Digest, Range); each read is a ledger event',
    security,
    request: { params },
    responses: {
      200: { description: 'the bytes', content: { 'application/octet-stream': { schema: z.string() } } },
      206: { description: 'one range of the bytes' },
      304: { description: 'not modified (If-None-Match)' },
      ...problemResponses(401, 404, 410, 416),
    },
  });
  router.get('/evidence/:id/content', async (req, res) => {
    const { id } = parseParams(idParam, req);
    const p = principalOf(req);
    const item = await visibleEvidence(prisma, p, id);
    await sendEvidenceContent(
      ctx,
      req,
      res,
      p,
      item,
      {
        // Captured pages are hostile content: never render them on our origin.
        'Content-Disposition': `attachment; filename="${item.sha256}"`,
        'Content-Security-Policy': "sandbox; default-src 'none'",
      },
      (size) => {
        throw new AppError('range_not_satisfiable', `The range is outside the ${size} bytes of this item.`);
      },
    );
  });

  return router;
}

// Audit exports: request (202), status with progress, download.
import { Router } from 'express';
import { z } from 'zod';
import { idParam, listQuery } from '../../claims/claims.schema.ts';
import type { AppContext } from '../../context.ts';
import { exportPageSchema, exportSchema } from '../../exports/export-view.schema.ts';
import {
  exportInput,
  exportView,
  listExports,
  requestExport,
  visibleExport,
} from '../../exports/exports.service.ts';
import { principalOf } from '../authenticate.ts';
import { sendExportFile } from '../blob-response.ts';
import { type ApiDocs, bearerAuth, jsonResponse, problemResponses } from '../openapi.ts';
import { parseBody, parseParams, parseQuery } from '../validate.ts';

export function exportsRouter(ctx: AppContext, docs: ApiDocs) {
  const { prisma } = ctx;
  const router = Router();
  const params = z.object({ id: z.string() });
  const security = bearerAuth;

  docs.route({
    method: 'post',
    path: '/v1/exports',
    operationId: 'requestExport',
    summary: 'Export a claim or an investigation as bagit, json or csv (admin, editor, auditor)',
    security,
    request: { body: { content: { 'application/json': { schema: exportInput } } } },
    responses: {
      202: jsonResponse('the export, queued', exportSchema),
      ...problemResponses(400, 401, 403, 404, 415, 422),
    },
  });
  router.post('/exports', async (req, res) => {
    const body = parseBody(exportInput, req);
    const view = await requestExport(ctx, principalOf(req), body);
    res.status(202).location(`/v1/exports/${view.id}`).json(view);
  });

  docs.route({
    method: 'get',
    path: '/v1/exports',
    operationId: 'listExports',
    summary: 'My exports, newest first (every export for admins)',
    security,
    request: { query: listQuery },
    responses: { 200: jsonResponse('a page of exports', exportPageSchema), ...problemResponses(400, 401) },
  });
  router.get('/exports', async (req, res) => {
    const q = parseQuery(listQuery, req);
    const { rows, nextCursor } = await listExports(prisma, principalOf(req), q.limit, q.cursor);
    res.json({ items: rows.map(exportView), nextCursor });
  });

  docs.route({
    method: 'get',
    path: '/v1/exports/{id}',
    operationId: 'getExport',
    summary: 'Status and progress (its requester, admin)',
    security,
    request: { params },
    responses: {
      200: jsonResponse('status and progress', exportSchema),
      ...problemResponses(401, 404),
    },
  });
  router.get('/exports/:id', async (req, res) => {
    res.json(exportView(await visibleExport(prisma, principalOf(req), parseParams(idParam, req).id)));
  });

  docs.route({
    method: 'get',
    path: '/v1/exports/{id}/download',
    operationId: 'downloadExport',
    summary: 'The export file (its requester, admin); 409 until it is completed',
    security,
    request: { params },
    responses: {
      200: { description: 'the file', content: { 'application/zip': { schema: z.string() } } },
      ...problemResponses(401, 404, 409, 410),
    },
  });
  router.get('/exports/:id/download', async (req, res) => {
    await sendExportFile(
      ctx,
      res,
      await visibleExport(prisma, principalOf(req), parseParams(idParam, req).id),
    );
  });

  return router;
}

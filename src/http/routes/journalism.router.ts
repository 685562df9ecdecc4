// Investigations, claims and sources: thin handlers over the services, each route
// registered in the OpenAPI document with the schema that validates it.
import { Router } from 'express';
import { z } from 'zod';
import { withdrawCitation } from '../../claims/citations.service.ts';
import {
  citationCreatedSchema,
  citationWithdrawnSchema,
  claimPageSchema,
  claimSchema,
  claimWithCitationsSchema,
} from '../../claims/claim-view.schema.ts';
import {
  citationInput,
  claimInput,
  claimListQuery,
  claimPatch,
  idParam,
  investigationInput,
  listQuery,
} from '../../claims/claims.schema.ts';
import {
  citeSource,
  claimCustody,
  createClaim,
  getClaim,
  visibleClaim,
} from '../../claims/claims.service.ts';
import { listClaims, updateClaim } from '../../claims/claims-edit.service.ts';
import type { AppContext } from '../../context.ts';
import {
  investigationPageSchema,
  investigationSchema,
} from '../../investigations/investigation-view.schema.ts';
import {
  createInvestigation,
  getInvestigation,
  investigationView,
  listInvestigations,
} from '../../investigations/investigations.service.ts';
import { verifyCustody } from '../../ledger/custody-verify.ts';
import { custodyVerdictSchema, ledgerEventPageSchema } from '../../ledger/event-view.schema.ts';
import { evidenceListSchema, sourcePageSchema, sourceSchema } from '../../sources/source-view.schema.ts';
import {
  listSources,
  sourceCustody,
  sourceEvidence,
  sourceView,
  visibleSource,
} from '../../sources/sources.service.ts';
import { principalOf } from '../authenticate.ts';
import { type ApiDocs, bearerAuth, jsonResponse, problemResponses } from '../openapi.ts';
import { parseBody, parseParams, parseQuery } from '../validate.ts';

/** Custody pages (sources and claims): `cursor` is the seq of the previous page's last event. */
const custodyQuery = z.strictObject({
  limit: listQuery.shape.limit,
  cursor: z.coerce.number().int().min(0).optional(),
});

export function journalismRouter(ctx: AppContext, docs: ApiDocs) {
  const { prisma } = ctx;
  const router = Router();

  const doc = (
    operationId: string,
    method: 'get' | 'post' | 'patch' | 'delete',
    path: string,
    summary: string,
    status: number,
    response: z.ZodType,
    extra: { body?: z.ZodType; query?: z.ZodType } = {},
  ) =>
    docs.route({
      operationId,
      method,
      path,
      summary,
      security: bearerAuth,
      request: {
        ...(path.includes('{id}') ? { params: z.object({ id: z.string() }) } : {}),
        ...(extra.query ? { query: extra.query as z.ZodObject } : {}),
        ...(extra.body ? { body: { content: { 'application/json': { schema: extra.body } } } } : {}),
      },
      responses: {
        [status]: jsonResponse(summary, response),
        // Reads fail only on input, auth and visibility; writes on bodies, roles and state too.
        ...(method === 'get'
          ? problemResponses(400, 401, 404)
          : method === 'delete'
            ? problemResponses(400, 401, 403, 404)
            : problemResponses(400, 401, 403, 404, 409, 413, 415, 422)),
      },
    });

  doc(
    'createInvestigation',
    'post',
    '/v1/investigations',
    'Create an investigation (admin, editor); the creator becomes a member',
    201,
    investigationSchema,
    {
      body: investigationInput,
    },
  );
  router.post('/investigations', async (req, res) => {
    res
      .status(201)
      .json(await createInvestigation(ctx, principalOf(req), parseBody(investigationInput, req)));
  });

  doc(
    'listInvestigations',
    'get',
    '/v1/investigations',
    'Investigations the caller is a member of',
    200,
    investigationPageSchema,
    { query: listQuery },
  );
  router.get('/investigations', async (req, res) => {
    const q = parseQuery(listQuery, req);
    res.json(await listInvestigations(prisma, principalOf(req), q.limit, q.cursor));
  });

  doc('getInvestigation', 'get', '/v1/investigations/{id}', 'One investigation', 200, investigationSchema);
  router.get('/investigations/:id', async (req, res) => {
    const { id } = parseParams(idParam, req);
    res.json(investigationView(await getInvestigation(prisma, principalOf(req), id)));
  });

  doc(
    'createClaim',
    'post',
    '/v1/investigations/{id}/claims',
    'Log a claim (editor member); status starts unverified',
    201,
    claimSchema,
    {
      body: claimInput,
    },
  );
  router.post('/investigations/:id/claims', async (req, res) => {
    const { id } = parseParams(idParam, req);
    const p = principalOf(req);
    // The body is parsed once the investigation is known visible: 404 before 400/403 for outsiders.
    res.status(201).json(await createClaim(ctx, p, id, () => parseBody(claimInput, req)));
  });

  doc(
    'listClaims',
    'get',
    '/v1/investigations/{id}/claims',
    'Claims of an investigation: filters status, tag, q (full text)',
    200,
    claimPageSchema,
    {
      query: claimListQuery,
    },
  );
  router.get('/investigations/:id/claims', async (req, res) => {
    const { id } = parseParams(idParam, req);
    await getInvestigation(prisma, principalOf(req), id);
    res.json(await listClaims(prisma, id, parseQuery(claimListQuery, req)));
  });

  doc(
    'updateClaim',
    'patch',
    '/v1/claims/{id}',
    'Edit a claim or change its status (editor); recorded with before and after',
    200,
    claimSchema,
    {
      body: claimPatch,
    },
  );
  router.patch('/claims/:id', async (req, res) => {
    const { id } = parseParams(idParam, req);
    const p = principalOf(req);
    await visibleClaim(prisma, p, id); // 404 for outsiders before validation errors
    res.json(await updateClaim(ctx, p, id, parseBody(claimPatch, req)));
  });

  doc(
    'getClaim',
    'get',
    '/v1/claims/{id}',
    'A claim with its citations and their sources',
    200,
    claimWithCitationsSchema,
  );
  router.get('/claims/:id', async (req, res) => {
    res.json(await getClaim(prisma, principalOf(req), parseParams(idParam, req).id));
  });

  doc(
    'getClaimCustody',
    'get',
    '/v1/claims/{id}/custody',
    "The claim's own ledger events (creation, edits, citations) in seq order",
    200,
    ledgerEventPageSchema,
    { query: custodyQuery },
  );
  router.get('/claims/:id/custody', async (req, res) => {
    const { id } = parseParams(idParam, req);
    const q = parseQuery(custodyQuery, req);
    res.json(await claimCustody(prisma, principalOf(req), id, q.limit, q.cursor));
  });

  doc(
    'citeSource',
    'post',
    '/v1/claims/{id}/sources',
    'Cite a source (editor); the URL is normalized and reused per investigation',
    201,
    citationCreatedSchema,
    {
      body: citationInput,
    },
  );
  router.post('/claims/:id/sources', async (req, res) => {
    const { id } = parseParams(idParam, req);
    const p = principalOf(req);
    await visibleClaim(prisma, p, id); // 404 for outsiders before validation errors
    const {
      created: _created,
      captureId: _c,
      ...out
    } = await citeSource(ctx, p, id, parseBody(citationInput, req));
    res.status(201).json(out);
  });

  doc(
    'withdrawCitation',
    'delete',
    '/v1/citations/{id}',
    'Withdraw a citation (editor member); a citation_withdrawn event of the claim, the source and its custody stay',
    200,
    citationWithdrawnSchema,
  );
  router.delete('/citations/:id', async (req, res) => {
    res.json(await withdrawCitation(ctx, principalOf(req), parseParams(idParam, req).id));
  });

  doc(
    'listSources',
    'get',
    '/v1/investigations/{id}/sources',
    "The investigation's sources, oldest first, with evidence, checks, custody and capture progress",
    200,
    sourcePageSchema,
    { query: listQuery },
  );
  router.get('/investigations/:id/sources', async (req, res) => {
    const { id } = parseParams(idParam, req);
    const q = parseQuery(listQuery, req);
    res.json(await listSources(prisma, principalOf(req), id, q.limit, q.cursor));
  });

  doc(
    'getSource',
    'get',
    '/v1/sources/{id}',
    'A source with its evidence, checks and custody summary',
    200,
    sourceSchema,
  );
  router.get('/sources/:id', async (req, res) => {
    const p = principalOf(req);
    res.json(await sourceView(prisma, await visibleSource(prisma, p, parseParams(idParam, req).id)));
  });

  doc(
    'listSourceEvidence',
    'get',
    '/v1/sources/{id}/evidence',
    "The source's evidence items, oldest first",
    200,
    evidenceListSchema,
  );
  router.get('/sources/:id/evidence', async (req, res) => {
    res.json(await sourceEvidence(prisma, principalOf(req), parseParams(idParam, req).id));
  });

  doc(
    'getSourceCustody',
    'get',
    '/v1/sources/{id}/custody',
    "The source's ledger events in seq order",
    200,
    ledgerEventPageSchema,
    {
      query: custodyQuery,
    },
  );
  router.get('/sources/:id/custody', async (req, res) => {
    const q = parseQuery(custodyQuery, req);
    res.json(await sourceCustody(prisma, principalOf(req), parseParams(idParam, req).id, q.limit, q.cursor));
  });

  doc(
    'verifySourceCustody',
    'get',
    '/v1/sources/{id}/custody/verify',
    "Recompute the source's chain and prove each event in the latest signed checkpoint",
    200,
    custodyVerdictSchema,
  );
  router.get('/sources/:id/custody/verify', async (req, res) => {
    const { id } = parseParams(idParam, req);
    await visibleSource(prisma, principalOf(req), id);
    // Proven against the latest signed checkpoint, not the stored tree (custody-verify.ts).
    res.json(await verifyCustody(ctx, { type: 'source', id }));
  });

  return router;
}

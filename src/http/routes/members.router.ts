// The members of an investigation: list (members), add and remove (admin, editor member).
import { Router } from 'express';
import { z } from 'zod';
import { idParam, memberInput } from '../../claims/claims.schema.ts';
import type { AppContext } from '../../context.ts';
import {
  memberListSchema,
  memberRemovedSchema,
  membershipSchema,
} from '../../investigations/investigation-view.schema.ts';
import { getInvestigation } from '../../investigations/investigations.service.ts';
import { addMember, listMembers, removeMember } from '../../investigations/members.service.ts';
import { principalOf } from '../authenticate.ts';
import { type ApiDocs, bearerAuth, jsonResponse, problemResponses } from '../openapi.ts';
import { parseBody, parseParams } from '../validate.ts';

const memberParams = z.strictObject({ id: z.string().max(64), userId: z.string().max(64) });

export function membersRouter(ctx: AppContext, docs: ApiDocs) {
  const router = Router();
  const security = bearerAuth;

  docs.route({
    method: 'get',
    path: '/v1/investigations/{id}/members',
    operationId: 'listMembers',
    summary: 'Members of the investigation with their names and roles, oldest first (members)',
    security,
    request: { params: z.object({ id: z.string() }) },
    responses: { 200: jsonResponse('the members', memberListSchema), ...problemResponses(400, 401, 404) },
  });
  router.get('/investigations/:id/members', async (req, res) => {
    res.json(await listMembers(ctx, principalOf(req), parseParams(idParam, req).id));
  });

  docs.route({
    method: 'post',
    path: '/v1/investigations/{id}/members',
    operationId: 'addMember',
    summary: 'Add a member (admin, editor member)',
    security,
    request: {
      params: z.object({ id: z.string() }),
      body: { content: { 'application/json': { schema: memberInput } } },
    },
    responses: {
      201: jsonResponse('added', membershipSchema),
      ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422),
    },
  });
  router.post('/investigations/:id/members', async (req, res) => {
    const { id } = parseParams(idParam, req);
    const p = principalOf(req);
    await getInvestigation(ctx.prisma, p, id); // 404 for outsiders before 400 for their body
    res.status(201).json(await addMember(ctx, p, id, parseBody(memberInput, req).userId));
  });

  docs.route({
    method: 'delete',
    path: '/v1/investigations/{id}/members/{userId}',
    operationId: 'removeMember',
    summary: 'Remove a member (admin, editor member); a member_removed event, their past events stay',
    security,
    request: { params: z.object({ id: z.string(), userId: z.string() }) },
    responses: {
      200: jsonResponse('removed', memberRemovedSchema),
      ...problemResponses(400, 401, 403, 404),
    },
  });
  router.delete('/investigations/:id/members/:userId', async (req, res) => {
    const { id, userId } = parseParams(memberParams, req);
    res.json(await removeMember(ctx, principalOf(req), id, userId));
  });

  return router;
}

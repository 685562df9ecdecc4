// Users (admins only): list, create with a token shown once, revoke every token of a user.
import { Router } from 'express';
import { z } from 'zod';
import { actorOf } from '../../access/principal.ts';
import { listQuery } from '../../claims/claims.schema.ts';
import type { AppContext } from '../../context.ts';
import { timestampSchema } from '../../evidence/evidence-view.schema.ts';
import { AppError } from '../../lib/errors.ts';
import { createUser, listUsers, revokeTokens, roles } from '../../users/users.service.ts';
import { principalOf } from '../authenticate.ts';
import { withholdOnReplay } from '../idempotency.ts';
import { type ApiDocs, bearerAuth, jsonResponse, problemResponses } from '../openapi.ts';
import { parseBody, parseParams, parseQuery } from '../validate.ts';

const userInput = z
  .strictObject({ name: z.string().trim().min(1).max(200), role: z.enum(roles) })
  .openapi('UserInput');
// A replay (Idempotency-Key) withholds the token: null, with tokenWithheld: true.
const createdUser = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(roles),
    token: z.string().nullable(),
    tokenWithheld: z.literal(true).optional(),
  })
  .openapi('CreatedUser');

const userListSchema = z
  .strictObject({
    items: z.array(
      z.strictObject({
        id: z.string(),
        name: z.string(),
        role: z.enum(roles),
        createdAt: timestampSchema,
        activeTokens: z.number().int(),
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .openapi('UserPage');

export function usersRouter(ctx: AppContext, docs: ApiDocs) {
  const router = Router();

  docs.route({
    method: 'get',
    path: '/v1/users',
    operationId: 'listUsers',
    summary: 'Every user with role and number of live tokens (admin)',
    security: bearerAuth,
    request: { query: listQuery },
    responses: { 200: jsonResponse('a page of users', userListSchema), ...problemResponses(400, 401, 403) },
  });
  router.get('/users', async (req, res) => {
    if (principalOf(req).role !== 'admin') throw new AppError('forbidden', 'Only admins list users.');
    const q = parseQuery(listQuery, req);
    res.json(await listUsers(ctx, q.limit, q.cursor));
  });

  docs.route({
    method: 'post',
    path: '/v1/users',
    operationId: 'createUser',
    summary: 'Create a user (admin); the token is shown only in this response',
    security: bearerAuth,
    request: { body: { content: { 'application/json': { schema: userInput } } } },
    responses: {
      201: { description: 'created', content: { 'application/json': { schema: createdUser } } },
      ...problemResponses(400, 401, 403, 413, 415),
    },
  });
  router.post('/users', async (req, res) => {
    const p = principalOf(req);
    if (p.role !== 'admin') throw new AppError('forbidden', 'Only admins create users.');
    const input = parseBody(userInput, req);
    withholdOnReplay(res, 'token');
    res
      .status(201)
      .set('Cache-Control', 'no-store')
      .json(await createUser(ctx, input, actorOf(p)));
  });

  docs.route({
    method: 'delete',
    path: '/v1/users/{id}/tokens',
    operationId: 'revokeUserTokens',
    summary: 'Revoke every token of a user (admin); the user must get a new one from an admin',
    security: bearerAuth,
    request: { params: z.object({ id: z.string() }) },
    responses: {
      200: {
        description: 'revoked',
        content: { 'application/json': { schema: z.object({ revoked: z.number() }) } },
      },
      ...problemResponses(401, 403, 404),
    },
  });
  router.delete('/users/:id/tokens', async (req, res) => {
    const p = principalOf(req);
    if (p.role !== 'admin') throw new AppError('forbidden', 'Only admins revoke tokens.');
    const { id } = parseParams(z.strictObject({ id: z.string().max(64) }), req);
    res.json({ revoked: await revokeTokens(ctx, id, actorOf(p)) });
  });

  return router;
}

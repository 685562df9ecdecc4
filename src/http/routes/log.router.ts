// The public face of the Merkle log: latest signed checkpoint, verifier key and proofs.
// Public by design (API.md): it reveals only sizes and hashes, never event bodies.
import { Router } from 'express';
import { z } from 'zod';
import { timestampRoutes } from '../../anchors/timestamp/timestamps.route.ts';
import { cosignaturesOf, withCosignatures } from '../../anchors/witness/cosignature-store.ts';
import type { AppContext } from '../../context.ts';
import { AppError } from '../../lib/errors.ts';
import { hashReader, latestCheckpoint, treeSize } from '../../log/log.repository.ts';
import { proveRecord, proveTree } from '../../log/merkle.ts';
import { publishedVerifierKey } from '../../log/published-key.ts';
import { type ApiDocs, problemResponses, publicRoute } from '../openapi.ts';
import { parseQuery } from '../validate.ts';

/** A tree size or leaf index: plain decimal digits only (no '', 0x1, 1e0, +1 or spaces). */
const index = z
  .string()
  .regex(/^(?:0|[1-9][0-9]{0,15})$/, 'must be a non-negative decimal integer')
  .transform(Number)
  .pipe(z.number().int().max(Number.MAX_SAFE_INTEGER))
  .openapi({ type: 'integer', minimum: 0 });
const inclusionQuery = z.strictObject({ index, size: index });
const consistencyQuery = z.strictObject({ from: index, to: index });
const proofSchema = z
  .array(z.string().describe('base64 SHA-256 hash'))
  .describe('audit path, RFC 6962 / tlog order');

export function logRouter(ctx: AppContext, docs: ApiDocs) {
  const router = Router();
  /** The key that verifies the latest checkpoint, as the sequencer published it. */
  const verifierKey = async () => {
    const cp = await latestCheckpoint(ctx.pool);
    const key = cp && (await publishedVerifierKey(ctx.pool, cp.note));
    if (!key)
      throw new AppError('not_found', 'The log has not published its key yet; is the sequencer running?');
    return key;
  };

  /** A proof may be asked for any tree size the log has integrated. */
  const requireSize = async (size: number, what: string) => {
    const current = await treeSize(ctx.pool);
    if (size > current) {
      throw new AppError('unprocessable', `${what} ${size} exceeds the current tree size ${current}.`);
    }
  };

  docs.route({
    method: 'get',
    path: '/v1/log/checkpoint',
    operationId: 'getCheckpoint',
    security: publicRoute,
    summary:
      'Latest signed checkpoint (C2SP tlog-checkpoint in a signed note), with the witness cosignatures (C2SP tlog-cosignature) it has as extra signature lines',
    responses: {
      200: { description: 'the note', content: { 'text/plain': { schema: z.string() } } },
      ...problemResponses(404),
    },
  });
  router.get('/checkpoint', async (_req, res) => {
    const cp = await latestCheckpoint(ctx.pool);
    if (!cp)
      throw new AppError('not_found', 'The log has not signed a checkpoint yet; is the sequencer running?');
    const note = withCosignatures(cp.note, await cosignaturesOf(ctx.pool, cp.size, cp.rootHash));
    res.type('text/plain; charset=utf-8').set('Cache-Control', 'no-cache').send(note);
  });

  docs.route({
    method: 'get',
    path: '/v1/log/key',
    operationId: 'getVerifierKey',
    security: publicRoute,
    summary: 'The verifier key, `name+hexkeyhash+base64key` (Go sumdb/note format)',
    responses: {
      200: { description: 'the key', content: { 'text/plain': { schema: z.string() } } },
      ...problemResponses(404),
    },
  });
  router.get('/key', async (_req, res) => {
    res.type('text/plain; charset=utf-8').send(`${await verifierKey()}\n`);
  });

  docs.route({
    method: 'get',
    path: '/v1/log/proof/inclusion',
    operationId: 'getInclusionProof',
    security: publicRoute,
    summary: 'Inclusion proof of leaf `index` in the tree of size `size`',
    request: { query: inclusionQuery },
    responses: {
      200: {
        description: 'proof',
        content: {
          'application/json': {
            schema: z.object({ index: z.number(), size: z.number(), proof: proofSchema }),
          },
        },
      },
      ...problemResponses(400, 422),
    },
  });
  router.get('/proof/inclusion', async (req, res) => {
    const q = parseQuery(inclusionQuery, req);
    if (q.index >= q.size)
      throw new AppError('unprocessable', `index ${q.index} is not below size ${q.size}.`);
    await requireSize(q.size, 'size');
    const proof = await proveRecord(q.size, q.index, hashReader(ctx.pool));
    res.json({ index: q.index, size: q.size, proof: proof.map((h) => h.toString('base64')) });
  });

  docs.route({
    method: 'get',
    path: '/v1/log/proof/consistency',
    operationId: 'getConsistencyProof',
    security: publicRoute,
    summary: 'Consistency proof from tree size `from` to tree size `to`',
    request: { query: consistencyQuery },
    responses: {
      200: {
        description: 'proof',
        content: {
          'application/json': { schema: z.object({ from: z.number(), to: z.number(), proof: proofSchema }) },
        },
      },
      ...problemResponses(400, 422),
    },
  });
  router.get('/proof/consistency', async (req, res) => {
    const q = parseQuery(consistencyQuery, req);
    if (q.from > q.to) throw new AppError('unprocessable', `from ${q.from} is greater than to ${q.to}.`);
    await requireSize(q.to, 'to');
    const proof = q.from === 0 || q.from === q.to ? [] : await proveTree(q.to, q.from, hashReader(ctx.pool));
    res.json({ from: q.from, to: q.to, proof: proof.map((h) => h.toString('base64')) });
  });

  timestampRoutes(router, ctx, docs, index); // GET /v1/log/timestamps (issue 15)
  return router;
}

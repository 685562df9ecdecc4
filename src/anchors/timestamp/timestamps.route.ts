// GET /v1/log/timestamps: the RFC 3161 timestamps of checkpoints, newest checkpoint first. Public
// like the rest of /v1/log: a timestamp reveals a checkpoint's size and hash, and who stamped it.
import type { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../../context.ts';
import { type ApiDocs, problemResponses, publicRoute } from '../../http/openapi.ts';
import { parseQuery } from '../../http/validate.ts';
import { listTimestamps } from './timestamp-store.ts';
import { certSubject } from './tsa-verify.ts';

const MAX = 100;

const timestampSchema = z.object({
  checkpointSize: z.number().int(),
  rootHash: z.string().describe('base64 root hash of that checkpoint'),
  tsa: z.string().describe('the TSA URL asked'),
  tsaSubject: z.string().describe('subject of the signing certificate'),
  genTime: z.string().describe('RFC 3339 time the TSA attests'),
  token: z.string().describe('the TimeStampToken (CMS ContentInfo), base64 DER'),
  chain: z.array(z.string()).describe('certificate path, signer first, trust anchor last, base64 DER each'),
});

/** Adds the route to the log router (`index`: the log router's tree-size parameter). */
export function timestampRoutes(router: Router, ctx: AppContext, docs: ApiDocs, index: z.ZodType<number>) {
  const query = z.strictObject({ size: index.optional() });
  docs.route({
    method: 'get',
    path: '/v1/log/timestamps',
    operationId: 'listTimestamps',
    security: publicRoute,
    summary: `RFC 3161 timestamps of signed checkpoints, newest checkpoint first (at most ${MAX}); \`size\`: one checkpoint's`,
    description:
      'Each timestamp covers SHA-256 of the checkpoint signed note exactly as the log signed it (without witness cosignature lines).',
    request: { query },
    responses: {
      200: {
        description: 'timestamps',
        content: { 'application/json': { schema: z.object({ timestamps: z.array(timestampSchema) }) } },
      },
      ...problemResponses(400),
    },
  });
  router.get('/timestamps', async (req, res) => {
    const q = parseQuery(query, req);
    const rows = await listTimestamps(ctx.pool, { size: q.size, limit: MAX });
    res.json({
      timestamps: rows.map((t) => ({
        checkpointSize: t.checkpointSize,
        rootHash: t.rootHash.toString('base64'),
        tsa: t.tsaUrl,
        tsaSubject: t.chain[0] ? certSubject(t.chain[0]) : '',
        genTime: t.genTime.toISOString(),
        token: t.token.toString('base64'),
        chain: t.chain.map((c) => c.toString('base64')),
      })),
    });
  });
}

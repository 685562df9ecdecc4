// The documented response schemas are the responses: real answers of representative routes
// (a real capture of a real video, a real upload, a completed export) must validate against the
// zod shapes the OpenAPI document is generated from, and the served document must name exactly
// those shapes for those operations. Objects are strict, so an undocumented field fails too.
import { readFileSync } from 'node:fs';
import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  citationCreatedSchema,
  citationWithdrawnSchema,
  claimPageSchema,
  claimSchema,
  claimWithCitationsSchema,
} from '../../src/claims/claim-view.schema.ts';
import { evidenceItemSchema } from '../../src/evidence/evidence-view.schema.ts';
import { exportSchema } from '../../src/exports/export-view.schema.ts';
import { problemSchema } from '../../src/http/openapi.ts';
import {
  investigationPageSchema,
  investigationSchema,
  membershipSchema,
} from '../../src/investigations/investigation-view.schema.ts';
import { custodyVerdictSchema, ledgerEventPageSchema } from '../../src/ledger/event-view.schema.ts';
import {
  captureRequestedSchema,
  evidenceListSchema,
  sourcePageSchema,
  sourceSchema,
} from '../../src/sources/source-view.schema.ts';
import { ownBlobDir } from '../capture/support.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { waitFor } from '../helpers/context.ts';
import { serveFile, useFixtureServer } from '../helpers/fixture-server.ts';

const media = (name: string) => new URL(`../fixtures/media/${name}`, import.meta.url).pathname;
const server = await useFixtureServer({ '/video.mp4': serveFile(media('zelenskyy-31s.mp4'), 'video/mp4') });
const env = await useCaptureEnv({ FETCH_ALLOWLIST: server.host, BLOB_DIR: ownBlobDir('openapi') });
const { app, as, editor, viewer, investigationId } = env;

type Doc = {
  components: { schemas: Record<string, unknown> };
  paths: Record<
    string,
    Record<
      string,
      { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> }
    >
  >;
};
const doc = (await request(app).get('/openapi.json')).body as Doc;

/** The components a zod shape generates on its own (itself, named by `.openapi('Name')`, and the
 * named shapes inside it): each must be in the served document exactly so. */
const componentsOf = (schema: z.ZodType) =>
  new OpenApiGeneratorV31([{ type: 'schema', schema }]).generateComponents().components?.schemas ?? {};

/**
 * The response validates against `schema`, and the document says this operation answers this
 * status with exactly that schema.
 */
function expectDocumented(
  res: request.Response,
  op: { method: string; path: string; status: number },
  schema: z.ZodType,
  mediaType = 'application/json',
) {
  expect(res.status, JSON.stringify(res.body)).toBe(op.status);
  const parsed = schema.safeParse(res.body);
  expect(parsed.success ? [] : parsed.error.issues, `${op.method} ${op.path} ${op.status}`).toEqual([]);
  const documented =
    doc.paths[op.path]?.[op.method]?.responses[String(op.status)]?.content?.[mediaType]?.schema;
  const own = componentsOf(schema);
  for (const [name, generated] of Object.entries(own))
    expect(doc.components.schemas[name]).toEqual(generated);
  const name = documented?.$ref?.replace('#/components/schemas/', '') ?? '(no $ref)';
  expect(Object.keys(own), `${op.method} ${op.path} ${op.status} documents ${name}`).toContain(name);
}

describe('real responses match the documented schemas', () => {
  it('investigations, claims, citations, sources, custody, evidence and exports', async () => {
    const ed = as(editor);
    let res = await request(app).get('/v1/investigations').set(ed);
    expectDocumented(
      res,
      { method: 'get', path: '/v1/investigations', status: 200 },
      investigationPageSchema,
    );

    res = await request(app).post('/v1/investigations').set(ed).send({ title: 'Schemas', description: 'd' });
    expectDocumented(res, { method: 'post', path: '/v1/investigations', status: 201 }, investigationSchema);
    const newInvestigation = res.body.id as string;
    res = await request(app).get(`/v1/investigations/${investigationId}`).set(ed);
    expectDocumented(
      res,
      { method: 'get', path: '/v1/investigations/{id}', status: 200 },
      investigationSchema,
    );
    res = await request(app)
      .post(`/v1/investigations/${newInvestigation}/members`)
      .set(ed)
      .send({ userId: viewer.id });
    expectDocumented(
      res,
      { method: 'post', path: '/v1/investigations/{id}/members', status: 201 },
      membershipSchema,
    );

    res = await request(app)
      .post(`/v1/investigations/${investigationId}/claims`)
      .set(ed)
      .send({ statement: 'Documented', claimant: { name: 'A', role: 'B' }, tags: ['t'], language: 'en' });
    expectDocumented(
      res,
      { method: 'post', path: '/v1/investigations/{id}/claims', status: 201 },
      claimSchema,
    );
    const claimId = res.body.id as string;
    res = await request(app).patch(`/v1/claims/${claimId}`).set(ed).send({ status: 'under_review' });
    expectDocumented(res, { method: 'patch', path: '/v1/claims/{id}', status: 200 }, claimSchema);
    res = await request(app).get(`/v1/investigations/${investigationId}/claims?limit=2`).set(ed);
    expectDocumented(
      res,
      { method: 'get', path: '/v1/investigations/{id}/claims', status: 200 },
      claimPageSchema,
    );

    res = await request(app)
      .post(`/v1/claims/${claimId}/sources`)
      .set(ed)
      .send({ url: `${server.origin}/video.mp4`, relation: 'origin', expected: { durationSeconds: 31 } });
    expectDocumented(
      res,
      { method: 'post', path: '/v1/claims/{id}/sources', status: 201 },
      citationCreatedSchema,
    );
    const sourceId = res.body.source.id as string;

    // A real capture: the source now has a video with probed metadata and a check.
    const source = await env.settled(sourceId);
    expect(source.evidence.length).toBeGreaterThan(0);
    expect(source.checks.length).toBeGreaterThan(0);
    res = await request(app).get(`/v1/sources/${sourceId}`).set(ed);
    expectDocumented(res, { method: 'get', path: '/v1/sources/{id}', status: 200 }, sourceSchema);
    res = await request(app).get(`/v1/claims/${claimId}`).set(ed);
    expectDocumented(res, { method: 'get', path: '/v1/claims/{id}', status: 200 }, claimWithCitationsSchema);
    const evidenceId = source.evidence[0].id as string;
    res = await request(app).get(`/v1/evidence/${evidenceId}`).set(ed);
    expectDocumented(res, { method: 'get', path: '/v1/evidence/{id}', status: 200 }, evidenceItemSchema);

    res = await request(app)
      .post(`/v1/sources/${sourceId}/evidence`)
      .set(ed)
      .attach('file', readFileSync(media('zelenskyy-31s.mp4')).subarray(0, 4096), {
        filename: 'own-copy.bin',
        contentType: 'application/octet-stream',
      });
    expectDocumented(
      res,
      { method: 'post', path: '/v1/sources/{id}/evidence', status: 201 },
      evidenceItemSchema,
    );

    res = await request(app).get(`/v1/sources/${sourceId}/custody?limit=200`).set(ed);
    expectDocumented(
      res,
      { method: 'get', path: '/v1/sources/{id}/custody', status: 200 },
      ledgerEventPageSchema,
    );
    res = await request(app).get(`/v1/sources/${sourceId}/custody/verify`).set(ed);
    expectDocumented(
      res,
      { method: 'get', path: '/v1/sources/{id}/custody/verify', status: 200 },
      custodyVerdictSchema,
    );
    res = await request(app).post(`/v1/sources/${sourceId}/captures`).set(ed).send({});
    expectDocumented(
      res,
      { method: 'post', path: '/v1/sources/{id}/captures', status: 202 },
      captureRequestedSchema,
    );
    await env.settled(sourceId);
    // After the recapture: completed captures with their times in the source views.
    res = await request(app).get(`/v1/investigations/${investigationId}/sources`).set(ed);
    expectDocumented(
      res,
      { method: 'get', path: '/v1/investigations/{id}/sources', status: 200 },
      sourcePageSchema,
    );
    expect(res.body.items[0].captures[0]).toMatchObject({ status: 'completed', reason: 'manual' });
    res = await request(app).get(`/v1/sources/${sourceId}/evidence`).set(ed);
    expectDocumented(
      res,
      { method: 'get', path: '/v1/sources/{id}/evidence', status: 200 },
      evidenceListSchema,
    );
    res = await request(app).get(`/v1/claims/${claimId}/custody`).set(ed);
    expectDocumented(
      res,
      { method: 'get', path: '/v1/claims/{id}/custody', status: 200 },
      ledgerEventPageSchema,
    );
    res = await request(app).patch(`/v1/claims/${claimId}`).set(ed).send({ claimedAt: '2024-12-17' });
    expectDocumented(res, { method: 'patch', path: '/v1/claims/{id}', status: 200 }, claimSchema);
    expect(res.body.claimedAt).toBe('2024-12-17');

    res = await request(app).post('/v1/exports').set(ed).send({ claimId, format: 'json' });
    expectDocumented(res, { method: 'post', path: '/v1/exports', status: 202 }, exportSchema);
    const exportId = res.body.id as string;
    const done = await waitFor(async () => {
      const r = await request(app).get(`/v1/exports/${exportId}`).set(ed);
      return ['completed', 'failed'].includes(r.body.status) ? r : null;
    }, 60_000);
    expect(done?.body.status).toBe('completed');
    expectDocumented(done!, { method: 'get', path: '/v1/exports/{id}', status: 200 }, exportSchema);

    const cited = (await request(app).get(`/v1/claims/${claimId}`).set(ed)).body.citations[0];
    res = await request(app).delete(`/v1/citations/${cited.id}`).set(ed);
    expectDocumented(
      res,
      { method: 'delete', path: '/v1/citations/{id}', status: 200 },
      citationWithdrawnSchema,
    );

    res = await request(app).get(`/v1/claims/${claimId}`).set(as(env.outsider));
    expectDocumented(
      res,
      { method: 'get', path: '/v1/claims/{id}', status: 404 },
      problemSchema,
      'application/problem+json',
    );
  });
});

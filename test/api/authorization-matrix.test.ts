// Every authenticated route × every kind of caller → the expected status, from one table.
// The table must cover every /v1 route of the OpenAPI document (the public /v1/log/* aside),
// so a new route cannot be added without deciding who may call it.
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { createUser } from '../../src/users/users.service.ts';
import { useTestContext } from '../helpers/context.ts';

const ctx = useTestContext();
const { app } = createApp(ctx);
const mk = (role: 'admin' | 'editor' | 'auditor' | 'viewer') =>
  createUser(ctx, { name: `${role} ${randomUUID().slice(0, 6)}`, role }, 'system:test');

const admin = await mk('admin');
const editor = await mk('editor');
const stranger = await mk('editor');
const auditor = await mk('auditor');
const viewer = await mk('viewer');
const revokable = await mk('viewer'); // whose tokens the DELETE route may revoke
const as = (t: string) => ({ Authorization: `Bearer ${t}` });

const inv = (await request(app).post('/v1/investigations').set(as(editor.token)).send({ title: 'Matrix' }))
  .body;
for (const u of [auditor, viewer]) {
  await request(app)
    .post(`/v1/investigations/${inv.id}/members`)
    .set(as(editor.token))
    .send({ userId: u.id });
}
// One member to remove per caller of the DELETE route (each call gets the next one).
const removable: string[] = [];
for (let i = 0; i < 7; i++) {
  const u = await mk('viewer');
  await request(app)
    .post(`/v1/investigations/${inv.id}/members`)
    .set(as(editor.token))
    .send({ userId: u.id });
  removable.push(u.id);
}
const claim = (
  await request(app)
    .post(`/v1/investigations/${inv.id}/claims`)
    .set(as(editor.token))
    .send({ statement: 'Matrix claim', claimant: { name: 'X' } })
).body;
const source = (
  await request(app)
    .post(`/v1/claims/${claim.id}/sources`)
    .set(as(editor.token))
    .send({ url: 'https://example.com/matrix', relation: 'origin' })
).body.source;
const evidence = (
  await request(app)
    .post(`/v1/sources/${source.id}/evidence`)
    .set(as(editor.token))
    .attach('file', Buffer.from('a journalist’s notes'), 'notes.txt')
).body;
// One citation to withdraw per caller of the DELETE route (each call gets the next one).
const withdrawable: string[] = [];
for (let i = 0; i < 7; i++) {
  const cited = await request(app)
    .post(`/v1/claims/${claim.id}/sources`)
    .set(as(editor.token))
    .send({ url: `https://example.com/withdrawable/${i}`, relation: 'context' });
  withdrawable.push(cited.body.citation.id);
}
const exported = (
  await request(app).post('/v1/exports').set(as(auditor.token)).send({ claimId: claim.id, format: 'csv' })
).body;

type Caller =
  | 'none'
  | 'badToken'
  | 'admin'
  | 'editorMember'
  | 'editorOutsider'
  | 'auditorMember'
  | 'viewerMember';
const tokens: Record<Exclude<Caller, 'none'>, string> = {
  badToken: `ct_${'x'.repeat(43)}`,
  admin: admin.token,
  editorMember: editor.token,
  editorOutsider: stranger.token,
  auditorMember: auditor.token,
  viewerMember: viewer.token,
};

interface RouteCase {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI path template, matched against the document. */
  template: string;
  path: () => string;
  body?: () => Promise<object> | object;
  /** Send a multipart upload with this content instead of a JSON body. */
  upload?: () => Buffer;
  expect: Record<Exclude<Caller, 'none' | 'badToken'>, number>;
}

const read = { admin: 200, editorMember: 200, editorOutsider: 404, auditorMember: 200, viewerMember: 200 };
const write = (ok: number) => ({
  admin: ok,
  editorMember: ok,
  editorOutsider: 404,
  auditorMember: 403,
  viewerMember: 403,
});
const adminOnly = (ok: number) => ({
  admin: ok,
  editorMember: 403,
  editorOutsider: 403,
  auditorMember: 403,
  viewerMember: 403,
});
let n = 0;

const routes: RouteCase[] = [
  {
    method: 'post',
    template: '/v1/users',
    path: () => '/v1/users',
    body: () => ({ name: `u${n++}`, role: 'viewer' }),
    expect: adminOnly(201),
  },
  {
    method: 'get',
    template: '/v1/users',
    path: () => '/v1/users',
    expect: adminOnly(200),
  },
  {
    method: 'delete',
    template: '/v1/users/{id}/tokens',
    path: () => `/v1/users/${revokable.id}/tokens`,
    expect: adminOnly(200),
  },
  {
    method: 'post',
    template: '/v1/investigations',
    path: () => '/v1/investigations',
    body: () => ({ title: `t${n++}` }),
    expect: { admin: 201, editorMember: 201, editorOutsider: 201, auditorMember: 403, viewerMember: 403 },
  },
  {
    method: 'get',
    template: '/v1/investigations',
    path: () => '/v1/investigations',
    expect: { admin: 200, editorMember: 200, editorOutsider: 200, auditorMember: 200, viewerMember: 200 },
  },
  {
    method: 'get',
    template: '/v1/investigations/{id}',
    path: () => `/v1/investigations/${inv.id}`,
    expect: read,
  },
  {
    method: 'post',
    template: '/v1/investigations/{id}/members',
    path: () => `/v1/investigations/${inv.id}/members`,
    body: async () => ({ userId: (await mk('viewer')).id }),
    expect: write(201),
  },
  {
    method: 'get',
    template: '/v1/investigations/{id}/members',
    path: () => `/v1/investigations/${inv.id}/members`,
    expect: read,
  },
  {
    method: 'delete',
    template: '/v1/investigations/{id}/members/{userId}',
    path: () => `/v1/investigations/${inv.id}/members/${removable.shift()}`,
    expect: write(200),
  },
  {
    method: 'post',
    template: '/v1/investigations/{id}/claims',
    path: () => `/v1/investigations/${inv.id}/claims`,
    body: () => ({ statement: `c${n++}`, claimant: { name: 'Y' } }),
    expect: write(201),
  },
  {
    method: 'get',
    template: '/v1/investigations/{id}/claims',
    path: () => `/v1/investigations/${inv.id}/claims`,
    expect: read,
  },
  { method: 'get', template: '/v1/claims/{id}', path: () => `/v1/claims/${claim.id}`, expect: read },
  {
    method: 'patch',
    template: '/v1/claims/{id}',
    path: () => `/v1/claims/${claim.id}`,
    body: () => ({ tags: [`t${n++}`] }),
    expect: write(200),
  },
  {
    method: 'post',
    template: '/v1/claims/{id}/sources',
    path: () => `/v1/claims/${claim.id}/sources`,
    body: () => ({ url: `https://example.com/m/${n++}`, relation: 'context' }),
    expect: write(201),
  },
  {
    method: 'get',
    template: '/v1/claims/{id}/custody',
    path: () => `/v1/claims/${claim.id}/custody`,
    expect: read,
  },
  {
    method: 'delete',
    template: '/v1/citations/{id}',
    path: () => `/v1/citations/${withdrawable.shift()}`,
    expect: write(200),
  },
  {
    method: 'get',
    template: '/v1/investigations/{id}/sources',
    path: () => `/v1/investigations/${inv.id}/sources`,
    expect: read,
  },
  { method: 'get', template: '/v1/sources/{id}', path: () => `/v1/sources/${source.id}`, expect: read },
  {
    method: 'get',
    template: '/v1/sources/{id}/evidence',
    path: () => `/v1/sources/${source.id}/evidence`,
    expect: read,
  },
  {
    method: 'get',
    template: '/v1/sources/{id}/custody',
    path: () => `/v1/sources/${source.id}/custody`,
    expect: read,
  },
  {
    method: 'get',
    template: '/v1/sources/{id}/custody/verify',
    path: () => `/v1/sources/${source.id}/custody/verify`,
    expect: read,
  },
  {
    method: 'post',
    template: '/v1/sources/{id}/captures',
    path: () => `/v1/sources/${source.id}/captures`,
    body: () => ({}),
    expect: write(202),
  },
  {
    method: 'post',
    template: '/v1/sources/{id}/evidence',
    path: () => `/v1/sources/${source.id}/evidence`,
    upload: () => Buffer.from(`upload ${n++}`),
    expect: write(201),
  },
  { method: 'get', template: '/v1/evidence/{id}', path: () => `/v1/evidence/${evidence.id}`, expect: read },
  {
    method: 'get',
    template: '/v1/evidence/{id}/similar',
    path: () => `/v1/evidence/${evidence.id}/similar`,
    expect: read,
  },
  {
    method: 'get',
    template: '/v1/evidence/{id}/content',
    path: () => `/v1/evidence/${evidence.id}/content`,
    expect: read,
  },
  {
    method: 'post',
    template: '/v1/exports',
    path: () => '/v1/exports',
    body: () => ({ claimId: claim.id, format: 'json' }),
    expect: { admin: 202, editorMember: 202, editorOutsider: 404, auditorMember: 202, viewerMember: 403 },
  },
  {
    // Everyone lists their own exports (admins every export).
    method: 'get',
    template: '/v1/exports',
    path: () => '/v1/exports',
    expect: { admin: 200, editorMember: 200, editorOutsider: 200, auditorMember: 200, viewerMember: 200 },
  },
  {
    // Only its requester (the auditor) and admins see an export; to anyone else it does not exist.
    method: 'get',
    template: '/v1/exports/{id}',
    path: () => `/v1/exports/${exported.id}`,
    expect: { admin: 200, editorMember: 404, editorOutsider: 404, auditorMember: 200, viewerMember: 404 },
  },
  {
    // No worker runs in this file: the export stays queued, so its file is not there yet.
    method: 'get',
    template: '/v1/exports/{id}/download',
    path: () => `/v1/exports/${exported.id}/download`,
    expect: { admin: 409, editorMember: 404, editorOutsider: 404, auditorMember: 409, viewerMember: 404 },
  },
];

describe('authorization matrix', () => {
  it('covers every authenticated route of the OpenAPI document', async () => {
    const doc = (await request(app).get('/openapi.json')).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(doc.paths)
      .filter(([p]) => p.startsWith('/v1/') && !p.startsWith('/v1/log/'))
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`))
      .sort();
    expect(routes.map((r) => `${r.method} ${r.template}`).sort()).toEqual(documented);
  });

  const callers = [
    'none',
    'badToken',
    'admin',
    'editorMember',
    'editorOutsider',
    'auditorMember',
    'viewerMember',
  ] as const;
  for (const r of routes) {
    for (const caller of callers) {
      const want = caller === 'none' || caller === 'badToken' ? 401 : r.expect[caller];
      it(`${r.method.toUpperCase()} ${r.template} as ${caller} → ${want}`, async () => {
        let req = request(app)[r.method](r.path());
        if (caller !== 'none') req = req.set(as(tokens[caller]));
        const res = await (r.upload
          ? req.attach('file', r.upload(), 'upload.txt')
          : r.body
            ? req.send(await r.body())
            : req);
        expect(res.status, JSON.stringify(res.body)).toBe(want);
        if (want >= 400) expect(res.type).toBe('application/problem+json');
      });
    }
  }
});

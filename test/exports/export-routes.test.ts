// Exports end to end: the seed case captured by the real workers, exported as a BagIt bag,
// JSON and CSV through the API; the bag passes `verify-export` (and `unzip -t`); progress
// moves to 1; only the requester and admins see an export; viewers cannot export.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyExport } from '../../src/exports/verify/verify-export.ts';
import { createUser } from '../../src/users/users.service.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { waitFor } from '../helpers/context.ts';
import { serveFile, serveText, useFixtureServer } from '../helpers/fixture-server.ts';

const media = (name: string) => new URL(`../fixtures/media/${name}`, import.meta.url).pathname;
const server = await useFixtureServer();
const postJson = readFileSync(media('syndication-post.json'), 'utf8').replaceAll('FIXTURE_HOST', server.host);
server.routes.set('/syndication/tweet-result', serveText(postJson, 'application/json'));
server.routes.set('/media/zelenskyy-31s.mp4', serveFile(media('zelenskyy-31s.mp4'), 'video/mp4'));

const env = await useCaptureEnv({
  FETCH_ALLOWLIST: server.host,
  X_SYNDICATION_URL: `${server.origin}/syndication`,
});
const { app, as, editor, viewer, outsider, cite, settled, ctx, investigationId } = env;
const admin = await createUser(ctx, { name: 'Export admin', role: 'admin' }, 'system:test');
const auditor = await createUser(ctx, { name: 'Export auditor', role: 'auditor' }, 'system:test');
await request(app)
  .post(`/v1/investigations/${investigationId}/members`)
  .set(as(editor))
  .send({ userId: auditor.id });

const scratch = mkdtempSync(join(tmpdir(), 'claimtrail-export-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const cited = await cite('https://x.com/ZelenskyyUa/status/1869038340384076117', {
  durationSeconds: 31,
  mediaType: 'video',
});
const source = await settled(cited.source.id);

const binary = (req: request.Test) =>
  req.buffer(true).parse((res, cb) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => cb(null, Buffer.concat(chunks)));
  });

async function exportAndWait(who: { token: string }, body: Record<string, unknown>) {
  const res = await request(app).post('/v1/exports').set(as(who)).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  expect(res.body).toMatchObject({ status: 'queued', progress: 0 });
  const done = await waitFor(async () => {
    const s = await request(app).get(`/v1/exports/${res.body.id}`).set(as(who));
    return ['completed', 'failed'].includes(s.body.status) && s.body;
  }, 60_000);
  expect(done.status, done.error).toBe('completed');
  const file = await binary(request(app).get(`/v1/exports/${res.body.id}/download`).set(as(who)));
  expect(file.status).toBe(200);
  return { id: res.body.id as string, status: done, file: file.body as Buffer, headers: file.headers };
}

describe('BagIt export of the seed claim', () => {
  let bag: Awaited<ReturnType<typeof exportAndWait>>;
  let path: string;

  it('is built by the worker with progress reaching 1, and its digest is the file’s', async () => {
    bag = await exportAndWait(auditor, { claimId: cited.claimId, format: 'bagit' });
    expect(bag.status.progress).toBe(1);
    const sha = createHash('sha256').update(bag.file).digest('hex');
    expect(bag.status).toMatchObject({ sha256: sha, size: bag.file.length });
    expect(bag.headers['content-type']).toBe('application/zip');
    expect(bag.headers['repr-digest']).toBe(`sha-256=:${Buffer.from(sha, 'hex').toString('base64')}:`);
    path = join(scratch, 'seed.zip');
    writeFileSync(path, bag.file);
  });

  it('passes verify-export with the bundled key and with the published key pinned', async () => {
    const key = (await request(app).get('/v1/log/key')).text.trim();
    const report = await verifyExport(path, { pinnedKey: key });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.summary).toMatchObject({ claims: 1, sources: 1, evidence: 2, contentFiles: 2 });
    // claim chain (created, citation) + source chain up to the export
    expect(report.summary.events).toBeGreaterThanOrEqual(2 + 11);
    expect(report.summary.proofsVerified).toBe(report.summary.events);
    execFileSync('unzip', ['-tq', path]);
  });

  it('holds the video bytes, the canonical chains and the scope document', () => {
    const list = execFileSync('unzip', ['-Z1', path], { encoding: 'utf8' }).split('\n');
    const video = source.evidence.find((e: { kind: string }) => e.kind === 'video');
    const bagName = `claimtrail-export-${bag.id}`;
    expect(list).toContain(`${bagName}/data/content/${video.sha256}`);
    expect(list).toContain(`${bagName}/data/ledger/source/${cited.source.id}.jsonl`);
    expect(list).toContain(`${bagName}/data/ledger/claim/${cited.claimId}.jsonl`);
    const info = execFileSync('unzip', ['-p', path, `${bagName}/bag-info.txt`], { encoding: 'utf8' });
    expect(info).toContain(`External-Identifier: ${bag.id}`);
    expect(info).toMatch(/Payload-Oxum: \d+\.\d+/);
  });

  it('is recorded in the export’s own chain (requested, its scope, completed with its digest)', async () => {
    const events = await ctx.prisma.ledgerEvent.findMany({
      where: { subjectType: 'export', subjectId: bag.id },
      orderBy: { seq: 'asc' },
    });
    expect(events.map((e) => e.type)).toEqual(['export_requested', 'export_scope', 'export_completed']);
    // The scope record lists every exported chain but the export's own.
    const scope = JSON.parse(events[1]!.body).data as { subjects: { type: string }[] };
    expect(scope.subjects.length).toBeGreaterThan(0);
    expect(scope.subjects.some((s) => s.type === 'export')).toBe(false);
    expect(JSON.parse(events[2]!.body).data).toMatchObject({
      sha256: bag.status.sha256,
      size: bag.file.length,
    });
  });
});

describe('JSON and CSV exports', () => {
  it('JSON holds the same content without the bytes, every event with its proof', async () => {
    const out = await exportAndWait(editor, { investigationId, format: 'json' });
    const doc = JSON.parse(out.file.toString('utf8'));
    expect(doc.exportId).toBe(out.id);
    expect(doc.includeContent).toBe(false);
    expect(doc.evidence.map((e: { sha256: string }) => e.sha256).sort()).toEqual(
      source.evidence.map((e: { sha256: string }) => e.sha256).sort(),
    );
    expect(doc.log.checkpoint).toMatch(/^claimtrail/);
    const total = doc.subjects.reduce((n: number, s: { length: number }) => n + s.length, 0);
    expect(doc.events).toHaveLength(total);
    for (const e of doc.events) expect(e.proof.length).toBeGreaterThan(0);
  });

  it('CSV has one row per evidence item, RFC 4180, formula cells neutralized', async () => {
    // A claim whose statement would run as a spreadsheet formula.
    const claim = await request(app)
      .post(`/v1/investigations/${investigationId}/claims`)
      .set(as(editor))
      .send({ statement: '=HYPERLINK("http://evil.example","click")', claimant: { name: 'Mallory' } });
    await request(app)
      .post(`/v1/claims/${claim.body.id}/sources`)
      .set(as(editor))
      .send({ url: 'https://x.com/ZelenskyyUa/status/1869038340384076117', relation: 'context' });
    const out = await exportAndWait(editor, { investigationId, format: 'csv' });
    const text = out.file.toString('utf8');
    expect(text.startsWith('\uFEFFclaim_id,statement,')).toBe(true);
    const lines = text.slice(1).trimEnd().split('\r\n');
    expect(lines).toHaveLength(1 + 4); // two claims × two evidence items
    expect(text).toContain(`"'=HYPERLINK(""http://evil.example"",""click"")"`);
    expect(text).not.toMatch(/(^|,)=HYPERLINK/m);
    expect(out.headers['content-type']).toMatch(/^text\/csv/);
  });
});

describe('an investigation as a bag', () => {
  it('holds every claim and source of the investigation and verifies', async () => {
    const other = await cite(`${server.origin}/media/zelenskyy-31s.mp4`, { durationSeconds: 31 });
    await settled(other.source.id);
    const out = await exportAndWait(admin, { investigationId, format: 'bagit', includeContent: false });
    const path = join(scratch, 'investigation.zip');
    writeFileSync(path, out.file);
    const report = await verifyExport(path);
    expect(report.problems).toEqual([]);
    const claims = await ctx.prisma.claim.count({ where: { investigationId } });
    const sources = await ctx.prisma.source.count({ where: { investigationId } });
    expect(report.summary).toMatchObject({ claims, sources, contentFiles: 0, includeContent: false });
    expect(report.summary.subjects).toBe(1 + claims + sources + 1); // + the export's own chain
  });
});

describe('who may export and see exports', () => {
  it('a viewer cannot export (403); an outsider gets 404 for the scope', async () => {
    const v = await request(app)
      .post('/v1/exports')
      .set(as(viewer))
      .send({ claimId: cited.claimId, format: 'bagit' });
    expect(v.status).toBe(403);
    const o = await request(app)
      .post('/v1/exports')
      .set(as(outsider))
      .send({ claimId: cited.claimId, format: 'bagit' });
    expect(o.status).toBe(404);
  });

  it('only the requester and admins see an export and download it', async () => {
    const res = await request(app)
      .post('/v1/exports')
      .set(as(auditor))
      .send({ claimId: cited.claimId, format: 'csv' });
    for (const other of [editor, viewer, outsider]) {
      expect((await request(app).get(`/v1/exports/${res.body.id}`).set(as(other))).status).toBe(404);
      expect((await request(app).get(`/v1/exports/${res.body.id}/download`).set(as(other))).status).toBe(404);
    }
    expect((await request(app).get(`/v1/exports/${res.body.id}`).set(as(admin))).status).toBe(200);
    expect((await request(app).get(`/v1/exports/${res.body.id}`).set(as(auditor))).status).toBe(200);
  });

  it('refuses malformed requests with precise problems', async () => {
    const both = await request(app)
      .post('/v1/exports')
      .set(as(editor))
      .send({ claimId: cited.claimId, investigationId, format: 'json' });
    expect(both.status).toBe(400);
    const badFormat = await request(app)
      .post('/v1/exports')
      .set(as(editor))
      .send({ claimId: cited.claimId, format: 'pdf' });
    expect(badFormat.status).toBe(400);
    expect(badFormat.body.errors[0].path).toBe('body.format');
    const unknown = await request(app)
      .post('/v1/exports')
      .set(as(editor))
      .send({ claimId: cited.claimId, format: 'json', extra: 1 });
    expect(unknown.status).toBe(400);
    const notId = await request(app)
      .post('/v1/exports')
      .set(as(editor))
      .send({ claimId: 'nope', format: 'json' });
    expect(notId.status).toBe(404);
    const early = await request(app)
      .post('/v1/exports')
      .set(as(editor))
      .send({ claimId: cited.claimId, format: 'json' });
    const dl = await request(app).get(`/v1/exports/${early.body.id}/download`).set(as(editor));
    expect([200, 409]).toContain(dl.status);
  });
});

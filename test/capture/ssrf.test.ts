// A cited URL is whatever a user typed: through the API and the real workers, no spelling of
// an internal address and no redirect gets a request to a server outside FETCH_ALLOWLIST.
// Both fixture servers listen on 127.0.0.1; only `allowed` is on the allow-list (as
// 127.0.0.1:<its port>). Every refusal is permanent: recorded once, never retried.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { redirectTo, serveText, useFixtureServer } from '../helpers/fixture-server.ts';
import { captureJob, capturesOf, custody, ofType, ownBlobDir, partialFiles } from './support.ts';

const forbidden = await useFixtureServer();
forbidden.routes.set('/x', serveText('internal secret', 'text/plain'));
const allowed = await useFixtureServer();
allowed.routes.set('/ok', serveText('public page', 'text/plain'));
allowed.routes.set('/to-forbidden', redirectTo(`${forbidden.origin}/x`));
allowed.routes.set('/to-forbidden-spelled', redirectTo(`http://0x7f.1:${forbidden.port}/x`, 307));
allowed.routes.set('/to-metadata', redirectTo('http://169.254.169.254/latest/meta-data/', 301));

const blobDir = ownBlobDir('ssrf');
const env = await useCaptureEnv({ FETCH_ALLOWLIST: allowed.host, BLOB_DIR: blobDir });
const { app, as, editor, cite, settled } = env;

const P = forbidden.port;
// Each URL its own path: 127.1, 0x7f.1 and 2130706433 all normalize to 127.0.0.1, and a
// second citation of one normalized URL reuses the source instead of capturing again.
const refused: { url: string; range: RegExp }[] = [
  { url: `http://127.1:${P}/x?a`, range: /127\.0\.0\.1 is a loopback/ },
  { url: `http://0x7f.1:${P}/x?b`, range: /127\.0\.0\.1 is a loopback/ },
  { url: `http://2130706433:${P}/x?c`, range: /127\.0\.0\.1 is a loopback/ },
  { url: `http://017700000001:${P}/x?d`, range: /127\.0\.0\.1 is a loopback/ },
  { url: `http://[::ffff:127.0.0.1]:${P}/x?e`, range: /IPv4-mapped .* of loopback/ },
  { url: `http://0.0.0.0:${P}/x?f`, range: /0\.0\.0\.0 is a "this network"/ },
  { url: `http://[::]:${P}/x?g`, range: /unspecified/ },
  { url: `http://[::1]:${P}/x?h`, range: /::1 is a loopback/ },
  // A name resolving to loopback; the resolved address is not named (no internal-DNS oracle).
  { url: `http://localhost:${P}/x?i`, range: /^localhost resolves to a loopback .*; not fetched$/ },
  {
    url: 'http://169.254.169.254/latest/meta-data/',
    range: /169\.254\.169\.254 is a link-local, incl\. cloud metadata/,
  },
  { url: 'http://[fe80::1]/', range: /fe80::1 is a link-local/ },
  { url: 'http://10.0.0.1/admin', range: /private-use/ },
  // The allowed server's own address at another port is not allowed: entries are ip:port.
  { url: `http://127.0.0.1:${P}/x?j`, range: /loopback/ },
];

async function expectRefusedOnce(sourceId: string, range: RegExp) {
  const source = await settled(sourceId);
  expect(source.status).toBe('failed');
  expect(source.failure).toMatchObject({ code: 'forbidden_address' });
  expect(source.failure.detail).toMatch(range);
  expect(source.evidence).toEqual([]);

  const events = await custody(env, sourceId);
  expect(events.map((e) => e.type)).toEqual([
    'source_cited',
    'capture_requested',
    'fetch_started',
    'capture_failed',
  ]);
  const [failed] = ofType(events, 'capture_failed');
  expect(failed!.data).toMatchObject({ code: 'forbidden_address', retryable: false });
  expect(failed!.data.detail).toMatch(range);

  // Not retried: one attempt in our table and in BullMQ, whose job failed for good.
  const [capture, ...more] = await capturesOf(env, sourceId);
  expect(more).toEqual([]);
  expect(capture).toMatchObject({ status: 'failed', attempts: 1 });
  expect(capture!.failure).toMatchObject({ code: 'forbidden_address' });
  const { job, state } = await captureJob(env, capture!.id);
  expect(state).toBe('failed');
  expect(job.attemptsMade).toBe(1);
  expect(job.failedReason).toMatch(/^forbidden_address: /);
  expect(partialFiles(blobDir, capture!.id)).toEqual([]);
  return failed!;
}

describe('SSRF: cited URLs naming internal addresses', () => {
  it('the allowed server is fetched (the setup works)', async () => {
    const cited = await cite(`${allowed.origin}/ok`);
    const source = await settled(cited.source.id);
    expect(source.status).toBe('captured');
    expect(allowed.hits.get('/ok')).toBe(1);
  });

  for (const { url, range } of refused) {
    it(`refuses ${url} without a request, once, for good`, async () => {
      const cited = await cite(url);
      expect(cited.source.status).toBe('pending');
      await expectRefusedOnce(cited.source.id, range);
      expect(forbidden.totalHits()).toBe(0);
    });
  }

  it('refuses a redirect from the allowed server to the forbidden one; the forbidden server gets nothing', async () => {
    for (const [path, range] of [
      ['/to-forbidden', /127\.0\.0\.1 is a loopback/],
      ['/to-forbidden-spelled', /127\.0\.0\.1 is a loopback/],
      ['/to-metadata', /169\.254\.169\.254 is a link-local/],
    ] as const) {
      const cited = await cite(`${allowed.origin}${path}`);
      const failed = await expectRefusedOnce(cited.source.id, range);
      expect(failed.data.detail).not.toContain(path);
      expect(allowed.hits.get(path)).toBe(1);
    }
    expect(forbidden.totalHits()).toBe(0);
  });

  it('capturing a refused source again is refused again, still without a request', async () => {
    const cited = await cite(`http://127.1:${P}/x?again`);
    await settled(cited.source.id);
    const res = await request(app).post(`/v1/sources/${cited.source.id}/captures`).set(as(editor)).send({});
    expect(res.status).toBe(202);
    const source = await settled(cited.source.id);
    expect(source.status).toBe('failed');
    expect(source.failure.code).toBe('forbidden_address');
    const captures = await capturesOf(env, cited.source.id);
    expect(captures.map((c) => [c.status, c.attempts])).toEqual([
      ['failed', 1],
      ['failed', 1],
    ]);
    expect(ofType(await custody(env, cited.source.id), 'capture_failed')).toHaveLength(2);
    expect(forbidden.totalHits()).toBe(0);
  });

  it('the chains of the refused sources verify', async () => {
    const sources = await env.ctx.prisma.source.findMany({
      where: { investigationId: env.investigationId, status: 'failed' },
      select: { id: true },
    });
    expect(sources.length).toBeGreaterThanOrEqual(refused.length + 3);
    for (const { id } of sources) {
      const res = await request(app).get(`/v1/sources/${id}/custody/verify`).set(as(editor));
      expect(res.body, id).toMatchObject({ valid: true });
    }
  });
});

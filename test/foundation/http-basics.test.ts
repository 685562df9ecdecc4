// The HTTP foundation in-process (supertest): probes, request ids, problem+json for every
// error, body limits, security headers, metrics and the OpenAPI document.
import { gzipSync } from 'node:zlib';
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { errorHandler } from '../../src/http/problem.ts';
import { useTestContext } from '../helpers/context.ts';

const ctx = useTestContext();
const { app } = createApp(ctx);
const small = createApp(useTestContext({ BODY_LIMIT_BYTES: '1024' })).app;

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An RFC 9457 problem from our catalogue, with a request id. */
function expectProblem(res: request.Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['x-request-id']).toMatch(uuid);
  const body = JSON.parse(res.text) as Record<string, unknown>;
  expect(body).toMatchObject({ type: `urn:claimtrail:problem:${code}`, status });
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  return body;
}

describe('probes', () => {
  it('/healthz answers 200', async () => {
    const res = await request(app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 with Postgres and Redis ok', async () => {
    const res = await request(app).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });
});

describe('X-Request-Id', () => {
  it('is on every response', async () => {
    for (const res of [
      await request(app).get('/healthz'),
      await request(app).get('/no/such/route'),
      await request(app).post('/v1/x').set('Content-Type', 'application/json').send('{'),
    ]) {
      expect(res.headers['x-request-id']).toMatch(uuid);
    }
  });

  it('echoes a sane incoming id', async () => {
    const id = 'trace-42_a.b:c';
    const res = await request(app).get('/healthz').set('X-Request-Id', id);
    expect(res.headers['x-request-id']).toBe(id);
  });

  it.each([
    ['300 characters', 'a'.repeat(300)],
    ['spaces', 'has some spaces'],
    ['markup', '<script>alert(1)</script>'],
  ])('replaces an id with %s', async (_what, id) => {
    const res = await request(app).get('/healthz').set('X-Request-Id', id);
    expect(res.headers['x-request-id']).toMatch(uuid);
  });
});

describe('errors are problem+json', () => {
  it('unknown route → 404', async () => {
    const body = expectProblem(await request(app).get('/no/such/route'), 404, 'not_found');
    expect(body.detail).toContain('/no/such/route');
  });

  it('a non-JSON body on /v1 → 415', async () => {
    const res = await request(app).post('/v1/anything').set('Content-Type', 'text/plain').send('hello');
    expectProblem(res, 415, 'unsupported_media_type');
  });

  it('malformed JSON → 400 malformed_json', async () => {
    const res = await request(app).post('/v1/anything').set('Content-Type', 'application/json').send('{"a":');
    expectProblem(res, 400, 'malformed_json');
  });

  it('a compressed body that does not inflate (junk, cut short) → 400 bad_request, not 500', async () => {
    const whole = gzipSync(JSON.stringify({ title: 'x' }));
    for (const body of [Buffer.from('not gzip at all'), whole.subarray(0, whole.length - 6)]) {
      const res = await request(app)
        .post('/v1/anything')
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'gzip')
        .send(body);
      expectProblem(res, 400, 'bad_request');
    }
  });

  it('a body over BODY_LIMIT_BYTES → 413, one under it passes the parser', async () => {
    const over = JSON.stringify({ text: 'x'.repeat(2000) });
    const res = await request(small).post('/v1/anything').set('Content-Type', 'application/json').send(over);
    const body = expectProblem(res, 413, 'payload_too_large');
    expect(body.detail).toContain('1024');

    const under = JSON.stringify({ text: 'x'.repeat(500) });
    const ok = await request(small).post('/v1/anything').set('Content-Type', 'application/json').send(under);
    expectProblem(ok, 401, 'unauthenticated'); // past the parser: the next check is auth
  });

  it.each([
    ['arrays', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['objects', `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`],
    ['unbalanced brackets', '['.repeat(100_000)],
  ])('deeply nested JSON (%s) → 4xx, never 500', async (_what, json) => {
    const res = await request(app).post('/v1/anything').set('Content-Type', 'application/json').send(json);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('a 500 reveals nothing internal', async () => {
    const tiny = express();
    tiny.get('/sync', () => {
      throw new Error('secret internals /etc/passwd');
    });
    tiny.get('/async', async () => {
      await Promise.resolve();
      throw new TypeError('secret internals /etc/passwd');
    });
    tiny.use(errorHandler);
    for (const path of ['/sync', '/async']) {
      const res = await request(tiny).get(path);
      expect(res.status).toBe(500);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(res.text)).toMatchObject({
        type: 'urn:claimtrail:problem:internal',
        status: 500,
        title: expect.any(String),
        detail: expect.any(String),
      });
      expect(res.text).not.toContain('secret');
      expect(res.text).not.toContain('passwd');
      expect(res.text).not.toMatch(/\bat .*\.ts:\d+|node_modules|Error:/);
    }
  });
});

describe('headers, metrics and documentation', () => {
  it('sets helmet security headers', async () => {
    const res = await request(app).get('/healthz');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('/metrics is Prometheus text with request latency by route and job counts', async () => {
    await request(app).get('/healthz');
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(
      /^claimtrail_http_request_duration_seconds_bucket\{[^}]*route="\/healthz"[^}]*\} \d+$/m,
    );
    expect(res.text).toMatch(/^claimtrail_jobs\{queue="custody",state="waiting"\} \d+$/m);
    // The pipeline's lag and latency, read from Postgres (pipeline-metrics.ts).
    expect(res.text).toMatch(/^claimtrail_log_pending_events \d+$/m);
    expect(res.text).toMatch(/^claimtrail_captures_completed_recent \d+$/m);
    expect(res.text).toContain('# TYPE claimtrail_log_checkpoint_age_seconds gauge');
    expect(res.text).toContain('# TYPE claimtrail_capture_latency_seconds gauge');
    // Unmatched paths must not create one series each.
    await request(app).get('/no/such/route/12345');
    expect((await request(app).get('/metrics')).text).not.toContain('12345');
  });

  it('/openapi.json is OpenAPI 3.1 with the probes', async () => {
    const res = await request(app).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\.1\./);
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/metrics']));
  });

  it('/docs is an HTML page', async () => {
    const res = await request(app).get('/docs');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('/openapi.json');
  });
});

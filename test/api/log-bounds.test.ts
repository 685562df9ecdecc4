// What reaches the log: every line bounded in size whatever a hostile request carries (a
// failed `?q=a%00b` used to log ~70 KB: the database error with the query and pages of the
// client library's source), request bodies never logged, and tokens in a URL redacted
// (`?token=`, `?access_token=`, a ct_ token anywhere). Captured from the real app's logger.
import { Writable } from 'node:stream';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { createUser } from '../../src/users/users.service.ts';
import { useTestContext } from '../helpers/context.ts';

/** Upper bound on one log line, whatever the request. */
const MAX_LINE_BYTES = 8 * 1024;

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});
const ctx = useTestContext();
const log = createLogger('info', sink);
const { app } = createApp({ ...ctx, log });
const editor = await createUser(ctx, { name: 'Log editor', role: 'editor' }, 'system:test');
const as = (u: { token: string }) => ({ Authorization: `Bearer ${u.token}` });
const inv = await request(app).post('/v1/investigations').set(as(editor)).send({ title: 'Log tests' });

/** The lines logged while `fn` ran (pino writes synchronously to a plain stream). */
async function logged(fn: () => Promise<unknown>): Promise<string[]> {
  const from = lines.length;
  await fn();
  await new Promise((r) => setImmediate(r));
  return lines.slice(from);
}

describe('log lines', () => {
  it('a failing request with a huge hostile input logs lines under a bound, without its body', async () => {
    const junk = 'x'.repeat(12_000);
    const out = await logged(async () => {
      const q = await request(app)
        .get(`/v1/investigations/${inv.body.id}/claims?q=a%00${junk}`)
        .set(as(editor));
      expect(q.status).toBe(400);
      const body = await request(app)
        .post('/v1/investigations')
        .set(as(editor))
        .set('Content-Type', 'application/json')
        .send(`{"title":"\\ud800${'BODYMARK'.repeat(60_000)}"}`);
      expect(body.status).toBe(400);
      // Broken JSON: body-parser's error carries the raw body.
      const broken = await request(app)
        .post('/v1/investigations')
        .set(as(editor))
        .set('Content-Type', 'application/json')
        .send(`{"title":"${'BODYMARK'.repeat(60_000)}`);
      expect(broken.status).toBe(400);
    });
    expect(out.length).toBeGreaterThanOrEqual(3);
    for (const line of out) {
      expect(Buffer.byteLength(line), line.slice(0, 300)).toBeLessThanOrEqual(MAX_LINE_BYTES);
      expect(line).not.toContain('BODYMARK');
    }
    // The URL is still there to read, cut.
    expect(out.some((l) => l.includes('more characters]'))).toBe(true);
  });

  it('an error logged with a huge message, stack and properties stays under the bound', async () => {
    const out = await logged(async () => {
      const err = Object.assign(new Error(`query failed: ${'Q'.repeat(100_000)}`), {
        meta: { query: 'S'.repeat(100_000), args: Array.from({ length: 1_000 }, (_, i) => `arg${i}`) },
        body: 'BODYMARK',
      });
      err.stack = `${err.message}\n${'    at frame (file.js:1:1)\n'.repeat(5_000)}`;
      log.error({ err }, 'request failed');
      log.error({ err: 'M'.repeat(100_000) }, 'string error');
    });
    expect(out).toHaveLength(2);
    for (const line of out) {
      expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_LINE_BYTES);
      expect(line).not.toContain('BODYMARK');
    }
    expect(JSON.parse(out[0]!).err.message).toMatch(/^query failed: Q+…\[\d+ more characters]$/);
  });

  it('tokens in the URL are redacted: ?token=, ?access_token=, any ct_ token in path or query', async () => {
    const token = editor.token;
    const out = await logged(async () => {
      await request(app).get(`/v1/investigations?token=${token}&limit=5`).set(as(editor));
      await request(app).get('/v1/investigations?access_token=opaque-secret-1&limit=5').set(as(editor));
      await request(app).get(`/v1/investigations?x=${token}`).set(as(editor));
      await request(app).get(`/v1/files/${token}/content`).set(as(editor));
      await request(app)
        .get(`/v1/investigations?TOKEN=opaque-secret-2`)
        .set('Referer', `https://e.org/?t=${token}`);
    });
    expect(out.length).toBeGreaterThanOrEqual(5);
    for (const line of out) {
      expect(line).not.toContain(token);
      expect(line).not.toContain(token.slice(3));
      expect(line).not.toContain('opaque-secret');
    }
    const urls = out.map((l) => (JSON.parse(l) as { req?: { url?: string } }).req?.url).filter(Boolean);
    expect(urls).toEqual(
      expect.arrayContaining([
        '/v1/investigations?token=[redacted]&limit=5',
        '/v1/investigations?access_token=[redacted]&limit=5',
        '/v1/investigations?x=[redacted]',
        '/v1/files/[redacted]/content',
      ]),
    );
  });

  it('a percent-encoded token is redacted too (ct%5F…, %63t_…), in the query and in the path', async () => {
    const token = editor.token;
    const encoded = [
      `ct%5F${token.slice(3)}`,
      `%63t_${token.slice(3)}`,
      encodeURIComponent(token).replace(/_/g, '%5f'),
    ];
    const out = await logged(async () => {
      for (const e of encoded) {
        await request(app).get(`/v1/investigations?q=${e}&limit=5`).set(as(editor));
        await request(app).get(`/v1/files/${e}/content`).set(as(editor));
        await request(app).get(`/v1/investigations?${e}`).set(as(editor));
      }
    });
    expect(out.length).toBeGreaterThanOrEqual(9);
    for (const line of out) expect(line).not.toContain(token.slice(3));
  });
});

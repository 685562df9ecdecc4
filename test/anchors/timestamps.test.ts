// RFC 3161 timestamps of checkpoints against a local TSA made with the openssl CLI: the real
// sequencer process component requests one when the checkpoint has grown, verifies and stores
// it, GET /v1/log/timestamps serves it (and `openssl ts -verify` accepts what it serves); replies
// for another digest, with another nonce, from a certificate without the timeStamping EKU or from
// an untrusted chain are refused, stored nowhere and counted in /metrics.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTsaAnchors } from '../../src/anchors/timestamp/start-timestamper.ts';
import { redisTimestampCounters } from '../../src/anchors/timestamp/timestamp-metrics.ts';
import { timestampIfDue } from '../../src/anchors/timestamp/timestamper.ts';
import { responseOfToken } from '../../src/anchors/timestamp/tsa-verify.ts';
import { ConfigError, parseConfig } from '../../src/config/env.ts';
import { createGuardedFetcher } from '../../src/fetch/guarded-fetcher.ts';
import { createApp } from '../../src/http/app.ts';
import { latestCheckpoint } from '../../src/log/log.repository.ts';
import { useTestContext, waitFor } from '../helpers/context.ts';
import { appendMany, newSubject } from '../helpers/ledger-fixtures.ts';
import { useSequencer, waitForIntegration } from '../helpers/sequencer.ts';
import { startLocalTsa, type TsaMode, tsaFetcher } from './local-tsa.ts';

const tsa = await startLocalTsa();
afterAll(() => tsa.close());
const ctx = useTestContext({
  TSA_URLS: tsa.url,
  TSA_CA_FILE: tsa.caFile,
  FETCH_ALLOWLIST: tsa.host,
  TIMESTAMP_EVERY_SECONDS: '3600',
});
await appendMany(ctx.pool, newSubject(), 3);
await useSequencer(ctx);
await waitForIntegration(ctx);
const { app } = createApp(ctx);

const fetcher = tsaFetcher(tsa);
const deps = (tsaUrl: string, anchors = loadTsaAnchors(tsa.caFile)) => ({
  deps: {
    pool: ctx.pool,
    log: ctx.log,
    fetcher,
    tsaUrls: [tsaUrl],
    anchors,
    everyMs: 3_600_000,
    counters: redisTimestampCounters(ctx.redis, ctx.config.REDIS_PREFIX),
  },
  state: { failures: 0, notBefore: 0 },
});

const stored = async (url: string) =>
  (await ctx.pool.query('SELECT 1 FROM log_timestamps WHERE tsa_url = $1', [url])).rowCount ?? 0;

async function metric(tsaUrl: string, outcome: string, reason: string): Promise<number> {
  const text = (await request(app).get('/metrics').expect(200)).text;
  const line = text
    .split('\n')
    .find((l) =>
      l.startsWith(
        `claimtrail_timestamp_requests_total{tsa="${tsaUrl}",outcome="${outcome}",reason="${reason}"}`,
      ),
    );
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('the sequencer with TSA_URLS', () => {
  it('timestamps the grown checkpoint, verified and stored, and serves it', async () => {
    const latest = (await latestCheckpoint(ctx.pool))!;
    expect(latest.size).toBeGreaterThanOrEqual(3);
    // This file's TSA only: other files' sequencers stamp the same shared log with theirs.
    // biome-ignore lint/suspicious/noExplicitAny: the route's JSON, checked field by field below
    const ours = (list: any[]): any[] => list.filter((x) => x.tsa === tsa.url);
    const t = await waitFor(async () => {
      const res = await request(app).get('/v1/log/timestamps').expect(200);
      return ours(res.body.timestamps)[0];
    }, 20_000);
    // Other test files append to the same log meanwhile: the stamped checkpoint is whichever was
    // latest when the timestamper looked; it must be one the log signed, with its root and note.
    expect(t.checkpointSize).toBeGreaterThanOrEqual(3);
    const stamped = (
      await ctx.pool.query<{ root_hash: Buffer; note: string }>(
        'SELECT root_hash, note FROM log_checkpoints WHERE size = $1',
        [t.checkpointSize],
      )
    ).rows[0]!;
    expect(t).toMatchObject({
      rootHash: stamped.root_hash.toString('base64'),
      tsa: tsa.url,
      tsaSubject: 'CN=tsa, O=claimtrail tests',
    });
    expect(Date.parse(t.genTime)).toBeGreaterThan(Date.now() - 120_000);
    expect(t.chain).toHaveLength(2); // the TSA certificate, then the CA it chains to

    // What the route serves checks out with openssl alone, over the note bytes as stored.
    const dir = tsa.dir;
    writeFileSync(join(dir, 'note'), stamped.note);
    writeFileSync(join(dir, 'served.tsr'), responseOfToken(Buffer.from(t.token, 'base64')));
    const out = execFileSync(
      'openssl',
      ['ts', '-verify', '-data', 'note', '-in', 'served.tsr', '-CAfile', tsa.caFile],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    ).toString();
    expect(out).toContain('Verification: OK');
    expect(await metric(tsa.url, 'stored', '')).toBeGreaterThanOrEqual(1);

    const one = await request(app).get(`/v1/log/timestamps?size=${t.checkpointSize}`).expect(200);
    expect(ours(one.body.timestamps).map((x) => x.checkpointSize)).toEqual([t.checkpointSize]);
    expect((await request(app).get('/v1/log/timestamps?size=999999').expect(200)).body.timestamps).toEqual(
      [],
    );
    const bad = await request(app).get('/v1/log/timestamps?size=-1').expect(400);
    expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
  });

  it('asks no TSA again while the checkpoint has not grown', async () => {
    const before = tsa.requests;
    const { deps: d, state } = deps(tsa.url);
    await timestampIfDue(d, tsa.url, state);
    expect(tsa.requests).toBe(before);
  });

  it('refuses TSA_URLS without TSA_CA_FILE at startup', () => {
    expect(() => parseConfig({ TSA_URLS: tsa.url })).toThrow(ConfigError);
  });
});

describe('a reply that fails a check is refused, stored nowhere and counted', () => {
  const cases: [TsaMode, string, string][] = [
    ['other-digest', 'refused', 'imprint'],
    ['wrong-nonce', 'refused', 'nonce'],
    ['no-eku', 'refused', 'eku'],
    ['untrusted', 'refused', 'chain'],
    ['down', 'failed', 'http_503'],
  ];
  it.each(cases)('%s → %s (%s), retried later with backoff', async (mode, outcome, reason) => {
    await appendMany(ctx.pool, newSubject(), 1); // a grown checkpoint: a timestamp is due
    await waitForIntegration(ctx);
    const url = `${tsa.url}?case=${mode}`;
    const { deps: d, state } = deps(url);
    tsa.mode = mode;
    try {
      const before = tsa.requests;
      await timestampIfDue(d, url, state);
      expect(tsa.requests).toBe(before + 1);
    } finally {
      tsa.mode = 'ok';
    }
    expect(await stored(url)).toBe(0);
    expect(state.failures).toBe(1);
    expect(state.notBefore).toBeGreaterThan(Date.now() + 5_000);
    expect(await metric(url, outcome, reason)).toBe(1);
    // Backing off: a second pass right away asks nobody.
    const before = tsa.requests;
    await timestampIfDue(d, url, state);
    expect(tsa.requests).toBe(before);
  });

  it('goes through the guarded fetcher: a loopback TSA outside FETCH_ALLOWLIST is never reached', async () => {
    const url = `${tsa.url}?case=not-allowed`;
    const { deps: d, state } = deps(url);
    const closed = createGuardedFetcher({
      allowlist: [],
      maxBytes: 1024,
      connectTimeoutMs: 2_000,
      totalTimeoutMs: 5_000,
      userAgent: 'test',
    });
    const before = tsa.requests;
    await timestampIfDue({ ...d, fetcher: closed }, url, state);
    expect(tsa.requests).toBe(before);
    expect(await metric(url, 'failed', 'forbidden_address')).toBe(1);
  });

  it('the same TSA with the other CA as the only anchor is refused as untrusted', async () => {
    const url = `${tsa.url}?case=other-anchor`;
    const { deps: d, state } = deps(url, loadTsaAnchors(tsa.otherCaFile));
    await timestampIfDue(d, url, state);
    expect(await stored(url)).toBe(0);
    expect(await metric(url, 'refused', 'chain')).toBe(1);
  });
});

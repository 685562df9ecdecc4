// Fair share between investigations: per-host limits alone let one investigation that cites
// many slow hosts (six servers here, six subdomains of one slow server in real life) hold every
// worker. With CAPTURE_PER_INVESTIGATION_CONCURRENCY = 2 and four workers, another
// investigation's source is captured while the slow investigation's two captures still hold
// their connections unanswered, and the six slow servers never see more than two connections
// between them (counted at the servers, not timed).
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { waitFor } from '../helpers/context.ts';
import { serveText, silent, useFixtureServer } from '../helpers/fixture-server.ts';
import { ownBlobDir } from './support.ts';

const SHARE = 2;
const slowServers = await Promise.all(Array.from({ length: 6 }, () => useFixtureServer()));
for (const s of slowServers) s.routes.set('/stall', silent);
const openSlow = () => slowServers.reduce((n, s) => n + s.connections().open, 0);
let maxOpenSlow = 0;
const sample = setInterval(() => {
  maxOpenSlow = Math.max(maxOpenSlow, openSlow());
}, 5);
sample.unref();

const normal = await useFixtureServer();
let slowOpenWhenOtherFetched: number | undefined;
normal.routes.set('/fine', (req, res) => {
  slowOpenWhenOtherFetched ??= openSlow();
  serveText('fine and fast', 'text/plain')(req, res);
});

const env = await useCaptureEnv({
  FETCH_ALLOWLIST: [...slowServers, normal].map((s) => s.host).join(','),
  BLOB_DIR: ownBlobDir('investigation-share'),
  FETCH_HEADERS_TIMEOUT_MS: '4000',
  CAPTURE_PER_HOST_CONCURRENCY: '2',
  CAPTURE_PER_INVESTIGATION_CONCURRENCY: String(SHARE),
  WORKER_CONCURRENCY: '4',
});
const { app, as, editor, cite, settled } = env;

describe('one investigation citing many slow hosts', () => {
  it("holds at most its share of workers: another investigation's source is captured meanwhile", async () => {
    await Promise.all(slowServers.map((s) => cite(`${s.origin}/stall`)));
    await waitFor(async () => openSlow() >= SHARE);

    const inv = await request(app).post('/v1/investigations').set(as(editor)).send({ title: 'Other desk' });
    const claim = await request(app)
      .post(`/v1/investigations/${inv.body.id}/claims`)
      .set(as(editor))
      .send({ statement: 'Elsewhere', claimant: { name: 'Someone else' } });
    const cited = await request(app)
      .post(`/v1/claims/${claim.body.id}/sources`)
      .set(as(editor))
      .send({ url: `${normal.origin}/fine`, relation: 'origin' });
    expect(cited.status).toBe(201);
    const other = await settled(cited.body.source.id);
    expect(other.status).toBe('captured');
    // Fetched while the slow investigation held its whole share, and never more than that.
    expect(slowOpenWhenOtherFetched).toBe(SHARE);
    expect(maxOpenSlow).toBe(SHARE);
  });
});

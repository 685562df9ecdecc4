// A capture test file's world: its own Redis prefix (so no other file's worker takes its jobs
// and it takes none of theirs), the real workers and sequencer, the API, users and an
// investigation, and loopback fixture servers opened through FETCH_ALLOWLIST.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll } from 'vitest';
import { createApp } from '../../src/http/app.ts';
import { createUser } from '../../src/users/users.service.ts';
import { handlers } from '../../workers/handlers.ts';
import { startWorkers } from '../../workers/worker-runner.ts';
import { useTestContext, waitFor } from './context.ts';
import { useSequencer } from './sequencer.ts';

export async function useCaptureEnv(
  overrides: Record<string, string> = {},
  opts: { workers?: boolean } = {},
) {
  const ctx = useTestContext({
    // Under the run's prefix, so the global teardown removes its keys too.
    REDIS_PREFIX: `${process.env.REDIS_PREFIX}:capture-${randomBytes(4).toString('hex')}`,
    FETCH_CONNECT_TIMEOUT_MS: '2000',
    // Capture tests pin their custody without the browser and platform steps; the browser and
    // platform tests turn them on.
    BROWSER_PATH: 'off',
    YTDLP_PATH: 'off',
    ...overrides,
  });
  await useSequencer(ctx);
  if (opts.workers !== false) {
    // No repeating sweep: test files share one database, and a sweep would take other files'
    // rows into this file's queues. Tests of the sweep call sweepCaptures() themselves.
    const workers = await startWorkers(ctx, { handlers, concurrency: 4, schedules: false });
    afterAll(() => workers.stop(Date.now() + 5_000));
  }
  const { app } = createApp(ctx);
  const mk = (name: string, role: 'admin' | 'editor' | 'auditor' | 'viewer') =>
    createUser(ctx, { name, role }, 'system:test');
  const editor = await mk('Capture editor', 'editor');
  const viewer = await mk('Capture viewer', 'viewer');
  const outsider = await mk('Other newsroom', 'editor');
  const as = (u: { token: string }) => ({ Authorization: `Bearer ${u.token}` });
  const inv = await request(app).post('/v1/investigations').set(as(editor)).send({ title: 'Capture tests' });
  await request(app)
    .post(`/v1/investigations/${inv.body.id}/members`)
    .set(as(editor))
    .send({ userId: viewer.id });

  /** A new claim in the investigation citing `url`; returns the citation response body. */
  async function cite(url: string, expected?: Record<string, unknown>, relation = 'origin') {
    const claim = await request(app)
      .post(`/v1/investigations/${inv.body.id}/claims`)
      .set(as(editor))
      .send({ statement: `A claim citing ${url}`, claimant: { name: 'Someone' } });
    const res = await request(app)
      .post(`/v1/claims/${claim.body.id}/sources`)
      .set(as(editor))
      .send({ url, relation, ...(expected ? { expected } : {}) });
    if (res.status !== 201) throw new Error(`cite ${url}: ${res.status} ${JSON.stringify(res.body)}`);
    return { claimId: claim.body.id as string, ...res.body };
  }

  /** Waits until the source's latest capture has ended; returns the source view. */
  async function settled(sourceId: string, timeoutMs = 30_000) {
    await waitFor(async () => {
      const open = await ctx.prisma.capture.count({
        where: { sourceId, status: { in: ['queued', 'running'] } },
      });
      return open === 0;
    }, timeoutMs);
    return (await request(app).get(`/v1/sources/${sourceId}`).set(as(editor))).body;
  }

  async function custodyTypes(sourceId: string): Promise<string[]> {
    const res = await request(app).get(`/v1/sources/${sourceId}/custody?limit=200`).set(as(editor));
    return res.body.items.map((e: { type: string }) => e.type);
  }

  return {
    ctx,
    app,
    editor,
    viewer,
    outsider,
    as,
    investigationId: inv.body.id as string,
    cite,
    settled,
    custodyTypes,
  };
}

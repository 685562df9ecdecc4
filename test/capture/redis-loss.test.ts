// Redis restarted empty (no persistence: every job and the sweeps' scheduler entries gone)
// under a running worker. A capture requested while Redis was down has a row and no job; only
// the capture sweep can bring it back, and the sweep is itself a scheduler entry in Redis. The
// worker must put its entries back when its connection is ready again (workers/schedules.ts),
// or the capture stays queued until some worker restarts — what the scale run (test/scale)
// found after its Redis restart.
//
// A database and a Redis of this file's own (redis-server, as scripts/ensure-env.sh installs
// it): the sweep takes every row of its database, and the test kills its Redis.
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { handlers } from '../../workers/handlers.ts';
import { startWorkers } from '../../workers/worker-runner.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { asOwner } from '../helpers/databases.ts';
import { serveText, useFixtureServer } from '../helpers/fixture-server.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { capturesOf, ownBlobDir } from './support.ts';

const redis = await startRedisServer();
afterAll(() => redis.stop());
const databaseUrl = await createIsolatedDatabase('redisloss');
const server = await useFixtureServer({ '/while-down.txt': serveText('asked for while Redis was down') });
const env = await useCaptureEnv(
  {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    FETCH_ALLOWLIST: server.host,
    BLOB_DIR: ownBlobDir('redis-loss'),
    // Long: the entry must come back on the reconnect, not on the next periodic look.
    CAPTURE_SWEEP_INTERVAL_MS: '600000',
  },
  { workers: false },
);
const workers = await startWorkers(env.ctx, { handlers, concurrency: 2 });
afterAll(() => workers.stop(Date.now() + 5_000));

describe('a worker whose Redis comes back empty', () => {
  it('puts the sweep back, and the sweep captures what was requested while Redis was away', async () => {
    const capture = env.ctx.queues.get('capture');
    expect(await capture.getJobScheduler('capture-sweep')).toBeDefined();

    await redis.kill();
    // The row commits; its enqueue fails (logged, left to the sweep).
    const cited = await env.cite(`${server.origin}/while-down.txt`);
    const [row] = await capturesOf(env, cited.source.id);
    expect(row).toMatchObject({ status: 'queued' });
    // Old enough for the sweep to count its job as lost (LOST_AFTER_MS) on its first run,
    // instead of waiting 30 s here.
    await asOwner(databaseUrl, (c) =>
      c.query(`UPDATE captures SET requested_at = now() - interval '5 minutes' WHERE id = $1`, [row!.id]),
    );
    await redis.start();

    const source = await env.settled(cited.source.id, 30_000);
    expect(source.status).toBe('captured');
    expect(await capture.getJobScheduler('capture-sweep')).toMatchObject({ every: 600_000 });
    const custody = await request(env.app)
      .get(`/v1/sources/${cited.source.id}/custody`)
      .set(env.as(env.editor));
    const types = custody.body.items.map((e: { type: string }) => e.type);
    expect(types.filter((t: string) => t === 'stored')).toHaveLength(1);
  }, 60_000);
});

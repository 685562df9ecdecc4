// /readyz follows its dependencies: a real Redis is killed and restarted under a running
// context; Postgres is pointed at a port where nothing listens and one that never answers.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppContext, createContext } from '../../src/context.ts';
import { createApp } from '../../src/http/app.ts';
import { testConfig, waitFor } from '../helpers/context.ts';
import { freePort } from '../helpers/net.ts';
import { hasRedisServer, type RedisServer, startRedisServer } from '../helpers/redis-server.ts';

interface Readiness {
  status: string;
  checks: { postgres: string; redis: string };
}

describe.skipIf(!hasRedisServer)('readiness follows Redis', () => {
  let redis: RedisServer | undefined;
  let ctx: AppContext;
  let app: ReturnType<typeof createApp>['app'];

  beforeAll(async () => {
    redis = await startRedisServer();
    ctx = createContext(testConfig({ REDIS_URL: redis.url }));
    app = createApp(ctx).app;
  });

  afterAll(async () => {
    await ctx?.close();
    await redis?.stop();
  });

  /** Polls /readyz until it answers `status`; returns that answer. */
  const readyzUntil = async (status: number, timeoutMs: number) => {
    let last: { status: number; body: Readiness } | undefined;
    await waitFor(
      async () => {
        const res = await request(app).get('/readyz');
        last = { status: res.status, body: res.body as Readiness };
        return res.status === status;
      },
      timeoutMs,
      100,
    );
    return last!;
  };

  it('is ready while Redis runs', async () => {
    const { body } = await readyzUntil(200, 5_000);
    expect(body.checks).toEqual({ postgres: 'ok', redis: 'ok' });
  });

  it('answers 503 naming Redis within 5 s of Redis dying, and recovers when it is back', async () => {
    await redis!.kill();
    const down = await readyzUntil(503, 5_000);
    expect(down.body.status).toBe('unavailable');
    expect(down.body.checks.redis).not.toBe('ok');
    expect(down.body.checks.postgres).toBe('ok');

    // Same port, same context: the connection must heal by itself.
    await redis!.start();
    const up = await readyzUntil(200, 15_000);
    expect(up.body.checks).toEqual({ postgres: 'ok', redis: 'ok' });
  }, 40_000);
});

// Restarting the real Postgres is not possible here: every test file of the run shares that
// server. Instead a context points at a port where nothing listens (connection refused) and
// at one that accepts connections but never answers (a hung server).
describe('readiness follows Postgres', () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  const contexts: AppContext[] = [];

  beforeAll(async () => {
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(contexts.map((c) => c.close()));
    await new Promise((resolve) => silent.close(resolve));
  });

  const readyzWithPostgresOn = async (port: number) => {
    const ctx = createContext(
      testConfig({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/claimtrail` }),
    );
    contexts.push(ctx);
    // Redis is healthy here; let the fresh connection finish its handshake first (with no
    // offline queue, a probe during the handshake fails, and rightly so).
    await waitFor(async () => ctx.redis.status === 'ready', 5_000, 20);
    return request(createApp(ctx).app).get('/readyz').timeout(10_000);
  };

  it('answers 503 naming Postgres when nothing listens', async () => {
    const res = await readyzWithPostgresOn(await freePort());
    expect(res.status).toBe(503);
    expect(res.body.status).toBe('unavailable');
    expect(res.body.checks.postgres).not.toBe('ok');
    expect(res.body.checks.redis).toBe('ok');
  });

  it('answers 503 naming Postgres when it hangs, instead of hanging too', async () => {
    const res = await readyzWithPostgresOn((silent.address() as { port: number }).port);
    expect(res.status).toBe(503);
    expect(res.body.checks.postgres).toMatch(/no answer|timeout/i);
    expect(res.body.checks.redis).toBe('ok');
  });
});

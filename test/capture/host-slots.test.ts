// The per-host share of capture slots on the real Redis: a host admits `limit` leases, other
// hosts are not affected, a released slot is free again, two processes (two HostSlots on
// their own connections) share one limit, and the lease of a worker that died (never renewed,
// never released) expires so its slot is taken again.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { HostSlots } from '../../src/queue/host-slots.ts';
import { createRedis } from '../../src/queue/redis.ts';
import { useTestContext, waitFor } from '../helpers/context.ts';

const ctx = useTestContext();
const prefix = `${process.env.REDIS_PREFIX}:slots-${randomBytes(4).toString('hex')}`;
const otherProcess = createRedis(ctx.config.REDIS_URL, 'producer');
afterAll(() => otherProcess.disconnect());

const slots = new HostSlots(ctx.redis, prefix, 2, ctx.log);
const slotsElsewhere = new HostSlots(otherProcess, prefix, 2, ctx.log);

describe('host slots', () => {
  it('admits the limit per host across processes, and a released slot is free again', async () => {
    const a = await slots.tryAcquire('slow.example:443', 'capture-a');
    const b = await slotsElsewhere.tryAcquire('slow.example:443', 'capture-b');
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(await slots.tryAcquire('slow.example:443', 'capture-c')).toBeUndefined();
    expect(await slotsElsewhere.tryAcquire('slow.example:443', 'capture-c')).toBeUndefined();
    const elsewhere = await slots.tryAcquire('fast.example:443', 'capture-d');
    expect(elsewhere).toBeDefined();
    expect(await slots.held('slow.example:443')).toBe(2);

    await b!.release();
    const c = await slots.tryAcquire('slow.example:443', 'capture-c');
    expect(c).toBeDefined();
    await Promise.all([a!.release(), c!.release(), elsewhere!.release()]);
    expect(await slots.held('slow.example:443')).toBe(0);
  });

  it("a dead worker's lease expires and its slot is taken again", async () => {
    // A worker that died holding both slots: leases of 300 ms that nobody renews or releases
    // (what a killed process leaves behind: its renewal timer died with it).
    const key = `${prefix}:host-slots:dead.example:80`;
    const [secs, micros] = await ctx.redis.time();
    const now = Number(secs) * 1000 + Math.floor(Number(micros) / 1000);
    await ctx.redis.zadd(key, now + 300, 'dead-1', now + 300, 'dead-2');
    expect(await slots.tryAcquire('dead.example:80', 'waiting')).toBeUndefined();
    const lease = await waitFor(() => slots.tryAcquire('dead.example:80', 'waiting'), 10_000, 50);
    expect(await slots.held('dead.example:80')).toBe(1);
    await lease!.release();
  });

  it('a lease renewed while its capture runs outlives its first term', async () => {
    const short = new HostSlots(ctx.redis, prefix, 1, ctx.log, 600);
    const lease = await short.tryAcquire('busy.example:80', 'long-capture');
    expect(lease).toBeDefined();
    // Renewals every 200 ms keep it: several terms later the one slot is still taken.
    let refusals = 0;
    await waitFor(
      async () => {
        if (!(await short.tryAcquire('busy.example:80', 'other'))) refusals++;
        return refusals >= 10;
      },
      10_000,
      100,
    );
    expect(await short.held('busy.example:80')).toBe(1);
    await lease!.release();
    expect(await short.tryAcquire('busy.example:80', 'other')).toBeDefined();
  });
});

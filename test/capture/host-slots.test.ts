// The per-host share of capture slots on the real Redis: a host admits `limit` leases, other
// hosts are not affected, a released slot is free again, two processes (two HostSlots on
// their own connections) share one limit, and the lease of a worker that died (never renewed,
// never released) expires so its slot is taken again. Two shares taken together (a capture's
// investigation and host): all or none, renewed together, released together, and expiring
// together when their worker dies.
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

  it('two shares taken together: all or none, released together, renewed together', async () => {
    const investigations = new HostSlots(ctx.redis, `${prefix}:investigation`, 1, ctx.log, 600);
    const hosts = new HostSlots(ctx.redis, prefix, 1, ctx.log, 600);
    const both = (investigation: string, host: string) => [
      { slots: investigations, name: investigation },
      { slots: hosts, name: host },
    ];
    const first = await HostSlots.tryAcquireAll(both('inv-1', 'a.example:80'), 'capture-1');
    expect('lease' in first).toBe(true);
    expect(await investigations.held('inv-1')).toBe(1);
    expect(await hosts.held('a.example:80')).toBe(1);

    // The investigation is full: its claim is named, and the free host is left untouched.
    const blocked = await HostSlots.tryAcquireAll(both('inv-1', 'b.example:80'), 'capture-2');
    expect(blocked).toEqual({ busy: both('inv-1', 'b.example:80')[0] });
    expect(await hosts.held('b.example:80')).toBe(0);
    // The host is full: the free investigation is left untouched.
    const hostBusy = await HostSlots.tryAcquireAll(both('inv-2', 'a.example:80'), 'capture-3');
    expect('busy' in hostBusy && hostBusy.busy.name).toBe('a.example:80');
    expect(await investigations.held('inv-2')).toBe(0);

    // Renewed every 200 ms: both slots outlive several terms of 600 ms.
    let refusals = 0;
    await waitFor(
      async () => {
        const other = await HostSlots.tryAcquireAll(both('inv-1', 'a.example:80'), 'capture-4');
        if ('busy' in other) refusals++;
        else await other.lease.release();
        return refusals >= 10;
      },
      10_000,
      100,
    );
    expect(await investigations.held('inv-1')).toBe(1);
    expect(await hosts.held('a.example:80')).toBe(1);

    // One release frees both.
    if ('lease' in first) await first.lease.release();
    expect(await investigations.held('inv-1')).toBe(0);
    expect(await hosts.held('a.example:80')).toBe(0);
    const again = await HostSlots.tryAcquireAll(both('inv-1', 'a.example:80'), 'capture-5');
    expect('lease' in again).toBe(true);
    if ('lease' in again) await again.lease.release();
  });

  it("a dead worker's two leases expire together", async () => {
    const investigations = new HostSlots(ctx.redis, `${prefix}:investigation`, 1, ctx.log);
    const [secs, micros] = await ctx.redis.time();
    const now = Number(secs) * 1000 + Math.floor(Number(micros) / 1000);
    await ctx.redis.zadd(`${prefix}:investigation:host-slots:inv-dead`, now + 300, 'dead');
    await ctx.redis.zadd(`${prefix}:host-slots:dead-both.example:80`, now + 300, 'dead');
    const claims = [
      { slots: investigations, name: 'inv-dead' },
      { slots: slots, name: 'dead-both.example:80' },
    ];
    expect(await HostSlots.tryAcquireAll(claims, 'waiting')).toEqual({ busy: claims[0] });
    const taken = await waitFor(
      async () => {
        const t = await HostSlots.tryAcquireAll(claims, 'waiting');
        return 'lease' in t ? t.lease : undefined;
      },
      10_000,
      50,
    );
    expect(await investigations.held('inv-dead')).toBe(1);
    expect(await slots.held('dead-both.example:80')).toBe(1);
    await taken!.release();
  });

  it('refuses shares on different connections (one script call cannot span them)', async () => {
    await expect(
      HostSlots.tryAcquireAll(
        [
          { slots, name: 'x.example:80' },
          { slots: slotsElsewhere, name: 'y.example:80' },
        ],
        'capture',
      ),
    ).rejects.toThrow('one Redis connection');
  });
});

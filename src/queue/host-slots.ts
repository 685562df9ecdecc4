// A per-host share of capture slots across every worker process: a Redis sorted set per host
// whose members are leases (score = expiry, on Redis's clock so workers' clocks do not matter).
// A lease is renewed while its capture runs and expires on its own when the worker dies, so a
// crashed worker frees its host's slot within LEASE_MS.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** How long a lease lives without renewal; renewed every third of it. */
export const LEASE_MS = 30_000;

// KEYS[1] the host's set; ARGV: member, limit, lease ms. Expired leases are dropped first; an
// existing member is renewed; a new one is admitted only below the limit. Returns 1 or 0.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local renew = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not renew and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1`;

function ready(redis: Redis, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis not ready within ${ms} ms`));
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

export interface HostLease {
  host: string;
  release(): Promise<void>;
}

export class HostSlots {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly limit: number,
    private readonly log: Logger,
    private readonly leaseMs = LEASE_MS,
  ) {}

  private key(host: string): string {
    return `${this.prefix}:host-slots:${host}`;
  }

  /** The process's fail-fast connection refuses commands while it (re)connects: wait a little. */
  private async connected(): Promise<void> {
    if (this.redis.status !== 'ready') await ready(this.redis, 5_000);
  }

  private async take(host: string, member: string): Promise<boolean> {
    await this.connected();
    const ok = await this.redis.eval(ACQUIRE, 1, this.key(host), member, this.limit, this.leaseMs);
    return ok === 1;
  }

  /** A lease on one of `host`'s slots, or undefined when all of them are taken. */
  async tryAcquire(host: string, owner: string): Promise<HostLease | undefined> {
    const member = `${owner}:${randomUUID()}`;
    if (!(await this.take(host, member))) return undefined;
    const renew = setInterval(() => {
      this.take(host, member).then(
        (held) => {
          // Lost only if renewals failed for a whole lease: the host may briefly get one more.
          if (!held) this.log.warn({ host, owner }, 'host slot lease lost while the capture ran');
        },
        (err: Error) => this.log.warn({ host, owner, err: err.message }, 'host slot lease not renewed'),
      );
    }, this.leaseMs / 3);
    renew.unref();
    let released = false;
    return {
      host,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        await this.redis.zrem(this.key(host), member);
      },
    };
  }

  /** Leases held now for `host` (tests and diagnostics). */
  async held(host: string): Promise<number> {
    await this.connected();
    const t = await this.redis.time();
    const now = Number(t[0]) * 1000 + Math.floor(Number(t[1]) / 1000);
    return this.redis.zcount(this.key(host), now + 1, '+inf');
  }
}

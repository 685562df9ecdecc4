// A per-host share of capture slots across every worker process: a Redis sorted set per host
// whose members are leases (score = expiry, on Redis's clock so workers' clocks do not matter).
// A lease is renewed while its capture runs and expires on its own when the worker dies, so a
// crashed worker frees its host's slot within LEASE_MS. The per-investigation share is the same
// thing under another prefix; a capture takes one slot of each in one script call
// (tryAcquireAll), renews both in one, and releases both in one.
import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** How long a lease lives without renewal; renewed every third of it. */
export const LEASE_MS = 30_000;

// KEYS: the sets of the shares; ARGV[1] member, ARGV[2] lease ms, ARGV[3] '1' to renew, then the
// limit of each key. Expired leases are dropped first; an existing member is renewed; a new one
// is admitted only below its key's limit. Taking: all keys or none, returns 0, or the index of
// the first key that is full. Renewing: every key that has room, returns how many did not.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[2])
local renew = ARGV[3] == '1'
local full = {}
local lost = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  full[i] = not redis.call('ZSCORE', key, ARGV[1]) and redis.call('ZCARD', key) >= tonumber(ARGV[3 + i])
  if full[i] then
    if not renew then return i end
    lost = lost + 1
  end
end
for i, key in ipairs(KEYS) do
  if not full[i] then
    redis.call('ZADD', key, now + ms, ARGV[1])
    redis.call('PEXPIRE', key, ms)
  end
end
return lost`;

// KEYS: the sets; ARGV[1] the member to remove from each.
const RELEASE = `
for _, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[1]) end
return 0`;

const sha1 = (script: string) => createHash('sha1').update(script).digest('hex');
const SCRIPTS = {
  acquire: { lua: ACQUIRE, sha: sha1(ACQUIRE) },
  release: { lua: RELEASE, sha: sha1(RELEASE) },
};

/** EVALSHA (the script's text is sent once per Redis, not on every call), EVAL when Redis does
 * not know it yet. */
async function runScript(
  redis: Redis,
  script: keyof typeof SCRIPTS,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  const { lua, sha } = SCRIPTS[script];
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
    return redis.eval(lua, keys.length, ...keys, ...args);
  }
}

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

export interface SharesLease {
  release(): Promise<void>;
}

export interface HostLease extends SharesLease {
  host: string;
}

/** A slot wanted from a share: `name` is the host (or investigation) it is counted under. */
export interface SlotClaim {
  slots: HostSlots;
  name: string;
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

  /** A lease on one of `host`'s slots, or undefined when all of them are taken. */
  async tryAcquire(host: string, owner: string): Promise<HostLease | undefined> {
    const taken = await HostSlots.tryAcquireAll([{ slots: this, name: host }], owner);
    return 'lease' in taken ? { host, release: taken.lease.release } : undefined;
  }

  /**
   * One slot of each share at once (a capture's investigation and its host), or none: taken in
   * one round trip, renewed together, released in one round trip. `busy`: the first claim whose
   * share is full (nothing was taken). Every share must use the same Redis connection.
   */
  static async tryAcquireAll<C extends SlotClaim>(
    claims: readonly C[],
    owner: string,
  ): Promise<{ lease: SharesLease } | { busy: C }> {
    const first = claims[0];
    if (!first) return { lease: { release: async () => {} } };
    const { redis, leaseMs } = first.slots;
    const log = first.slots.log;
    if (claims.some((c) => c.slots.redis !== redis || c.slots.leaseMs !== leaseMs))
      throw new Error('shares taken together must share one Redis connection and lease time');
    const member = `${owner}:${randomUUID()}`;
    const keys = claims.map((c) => c.slots.key(c.name));
    const take = async (renew: boolean) => {
      await first.slots.connected();
      const limits = claims.map((c) => c.slots.limit);
      return Number(await runScript(redis, 'acquire', keys, [member, leaseMs, renew ? '1' : '0', ...limits]));
    };
    const full = await take(false);
    if (full > 0) return { busy: claims[full - 1]! };
    const names = claims.map((c) => c.name);
    const renew = setInterval(() => {
      take(true).then(
        (lost) => {
          // Lost only if renewals failed for a whole lease: the share may briefly get one more.
          if (lost > 0) log.warn({ shares: names, owner }, 'capture slot lease lost while the capture ran');
        },
        (err: Error) =>
          log.warn({ shares: names, owner, err: err.message }, 'capture slot lease not renewed'),
      );
    }, leaseMs / 3);
    renew.unref();
    let released = false;
    return {
      lease: {
        release: async () => {
          if (released) return;
          released = true;
          clearInterval(renew);
          await runScript(redis, 'release', keys, [member]);
        },
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

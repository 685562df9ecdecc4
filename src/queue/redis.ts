// ioredis connections as BullMQ's production guide prescribes: workers block on Redis and
// must never give up on a command (maxRetriesPerRequest: null); producers in the API fail
// fast instead of queueing commands while Redis is away (enableOfflineQueue: false).
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export type RedisRole = 'worker' | 'producer' | 'probe';

export function createRedis(url: string, role: RedisRole): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    connectTimeout: 2_000,
    // Reconnect forever with a capped delay: Redis coming back must heal the service.
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    lazyConnect: false,
  });
}

/** BullMQ loses jobs silently when Redis evicts keys; say so loudly at startup. */
export async function warnUnlessNoEviction(redis: Redis, log: Logger): Promise<string | undefined> {
  try {
    const reply = (await redis.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy !== 'noeviction') {
      log.warn(
        { maxmemoryPolicy: policy },
        `REDIS maxmemory-policy is "${policy}", not "noeviction": Redis may evict queued jobs under memory pressure. Set "maxmemory-policy noeviction".`,
      );
    }
    return policy;
  } catch (err) {
    // Managed Redis services often forbid CONFIG: we cannot know, so we say that instead.
    log.warn({ err: (err as Error).message }, 'could not read Redis maxmemory-policy (CONFIG GET refused)');
    return undefined;
  }
}

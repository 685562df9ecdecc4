// The process-wide dependencies (repositories wrap these). Built once per process from the
// configuration and closed in reverse order on shutdown.
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from './config/env.ts';
import { createPgPool } from './db/pg-pool.ts';
import { createPrisma, type PrismaClient } from './db/prisma.ts';
import { logger } from './lib/logger.ts';
import { Queues } from './queue/queues.ts';
import { createRedis } from './queue/redis.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { createBlobStore } from './storage/create-blob-store.ts';
import { S3BlobStore } from './storage/s3-blob-store.ts';
import { type AuthCache, createAuthCache } from './users/auth-cache.ts';

export interface AppContext {
  config: Config;
  log: Logger;
  prisma: PrismaClient;
  pool: pg.Pool;
  /** Fail-fast connection for enqueueing and readiness probes. */
  redis: Redis;
  queues: Queues;
  /** Evidence and export bytes. */
  blobs: BlobStore;
  /** Bearer tokens already authenticated by this process; its listener is opened by createApp,
   * so only processes that serve the API hold one. */
  authCache: AuthCache;
  close(): Promise<void>;
}

export function createContext(config: Config): AppContext {
  const log = logger();
  const prisma = createPrisma(config.DATABASE_URL, config.DATABASE_POOL_MAX);
  const pool = createPgPool(config.DATABASE_URL, config.DATABASE_POOL_MAX);
  const redis = createRedis(config.REDIS_URL, 'producer');
  // ioredis reports every failed reconnect; one line per outage is enough.
  let redisDown = false;
  redis.on('error', (err) => {
    if (!redisDown) log.warn({ err: err.message }, 'Redis connection lost; retrying');
    redisDown = true;
  });
  redis.on('ready', () => {
    if (redisDown) log.info('Redis connection restored');
    redisDown = false;
  });
  const queues = new Queues(redis, config.REDIS_PREFIX);
  const blobs = createBlobStore(config);
  const authCache = createAuthCache(config, log);
  return {
    config,
    log,
    prisma,
    pool,
    redis,
    queues,
    blobs,
    authCache,
    async close() {
      await authCache.close();
      await queues.close().catch((err) => log.warn({ err: err.message }, 'closing queues'));
      redis.disconnect();
      await prisma.$disconnect();
      await pool.end();
      if (blobs instanceof S3BlobStore) blobs.close();
    },
  };
}

// Once per `vitest run`: a database and a Redis key prefix of this run's own, so tests never
// touch a running service's data and two runs on one machine do not collide. Migrated as the
// owner (MIGRATION_DATABASE_URL); services and tests run as the runtime role (DATABASE_URL),
// so the whole suite exercises least privilege. Tests that must act as an owner (tampering)
// use the MIGRATION_DATABASE_URL exported here (test/helpers/databases.ts: ownerUrlFor).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { parseConfig } from '../../src/config/env.ts';
import { migrateConfigured } from '../../src/db/migrate.ts';
import { dropDatabase, runtimeUrlFor, withDatabase } from '../helpers/databases.ts';

export default async function setup() {
  const base = parseConfig(process.env);
  const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const database = `claimtrail_test_${runId}`;
  const ownerUrl = withDatabase(base.MIGRATION_DATABASE_URL, database);
  const databaseUrl = runtimeUrlFor(withDatabase(base.DATABASE_URL, database), ownerUrl);
  const prefix = `claimtrail-test-${runId}`;
  const migrated = await migrateConfigured({ DATABASE_URL: databaseUrl, MIGRATION_DATABASE_URL: ownerUrl });
  if (!migrated.runtime) throw new Error('the test run needs a runtime role other than the owner');

  // Inherited by the test workers, which vitest forks after this runs.
  process.env.DATABASE_URL = databaseUrl;
  process.env.MIGRATION_DATABASE_URL = ownerUrl;
  process.env.REDIS_PREFIX = prefix;
  process.env.NODE_ENV = 'test';
  process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'silent';
  // One signing key and blob store per run, shared by every test file's processes.
  const scratch = mkdtempSync(join(tmpdir(), `claimtrail-test-${runId}-`));
  process.env.LOG_SIGNING_KEY_FILE = join(scratch, 'log-signing.key');
  process.env.BLOB_DIR = join(scratch, 'blobs');

  return async () => {
    await dropDatabase(ownerUrl, ownerUrl);
    const redis = new Redis(base.REDIS_URL);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
    rmSync(scratch, { recursive: true, force: true });
  };
}

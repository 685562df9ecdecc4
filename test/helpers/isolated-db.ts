// A database of a test file's own (created and migrated by this run's owner, used through the
// runtime role like the main one), for tests that tamper with the ledger or kill processes and
// must not disturb other files. Returns the runtime URL; ownerUrlFor() gives the owner's.
import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import { migrateConfigured } from '../../src/db/migrate.ts';
import { dropDatabase, withDatabase } from './databases.ts';

export async function createIsolatedDatabase(label: string): Promise<string> {
  const cfg = parseConfig(process.env);
  const name = `${new URL(cfg.DATABASE_URL).pathname.slice(1)}_${label}_${randomBytes(3).toString('hex')}`;
  const urls = {
    DATABASE_URL: withDatabase(cfg.DATABASE_URL, name),
    MIGRATION_DATABASE_URL: withDatabase(cfg.MIGRATION_DATABASE_URL, name),
  };
  await migrateConfigured(urls);
  afterAll(() => dropDatabase(urls.DATABASE_URL, urls.MIGRATION_DATABASE_URL));
  return urls.DATABASE_URL;
}

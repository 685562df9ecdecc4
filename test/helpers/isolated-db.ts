// A database of a test file's own (created and migrated from this run's server), for tests
// that tamper with the ledger or kill processes and must not disturb other files.
import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { migrate } from '../../src/db/migrate.ts';
import { dropDatabase } from './databases.ts';

export async function createIsolatedDatabase(label: string): Promise<string> {
  const url = new URL(process.env.DATABASE_URL ?? '');
  url.pathname = `${url.pathname}_${label}_${randomBytes(3).toString('hex')}`;
  await migrate(url.toString());
  afterAll(() => dropDatabase(url.toString()));
  return url.toString();
}

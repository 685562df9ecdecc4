// Database housekeeping shared by the global setup and per-file isolated databases. The suite
// runs as the runtime role (DATABASE_URL, least privilege); creating, dropping and tampering
// need the owner (MIGRATION_DATABASE_URL), which the global setup exports for tests only.
import pg from 'pg';
import { DEFAULT_RUNTIME_ROLE, parseConfig } from '../../src/config/env.ts';

/** `url` with another database name. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

const databaseOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

/** The database of `url` as its owner (this run's MIGRATION_DATABASE_URL credentials): for
 * tests that do what only an owner or superuser can (disable triggers, rewrite history). */
export function ownerUrlFor(url: string): string {
  return withDatabase(parseConfig(process.env).MIGRATION_DATABASE_URL, databaseOf(url));
}

/** The runtime URL a test run uses: DATABASE_URL's role, or the default runtime role when
 * DATABASE_URL logs in as the owner itself (so the suite always exercises least privilege). */
export function runtimeUrlFor(runtimeUrl: string, ownerUrl: string): string {
  const u = new URL(runtimeUrl);
  if (u.username && u.username !== new URL(ownerUrl).username) return runtimeUrl;
  const fallback = new URL(ownerUrl);
  fallback.username = DEFAULT_RUNTIME_ROLE.user;
  fallback.password = DEFAULT_RUNTIME_ROLE.password;
  fallback.pathname = u.pathname;
  return fallback.toString();
}

/** Runs `fn` on one connection to `url`'s database as its owner. */
export async function asOwner<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ownerUrlFor(url) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops the database named in `databaseUrl` (as its owner), disconnecting whoever still uses it. */
export async function dropDatabase(databaseUrl: string, ownerUrl = ownerUrlFor(databaseUrl)): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(ownerUrl, 'postgres') });
  await client.connect();
  try {
    await client.query(
      `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(databaseOf(databaseUrl))} WITH (FORCE)`,
    );
  } finally {
    await client.end();
  }
}

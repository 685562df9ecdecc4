// Database housekeeping shared by the global setup and per-file isolated databases.
import pg from 'pg';

/** Drops the database named in `databaseUrl`, disconnecting whoever still uses it. */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(url.pathname.slice(1))} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

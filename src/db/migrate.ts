// Creates the database when it does not exist and applies prisma/migrations with
// `prisma migrate deploy`. Works on an empty or an older database; safe to run on every start.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Environment for the Prisma CLI. Its native engines cannot be downloaded on our machines,
 * and with `engine: 'js'` in prisma.config.ts it never loads them: pointing these variables
 * at any existing file stops it from trying to download them first. */
export function prismaCliEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const placeholder = fileURLToPath(import.meta.url);
  return {
    ...process.env,
    DATABASE_URL: databaseUrl,
    PRISMA_QUERY_ENGINE_LIBRARY: placeholder,
    PRISMA_SCHEMA_ENGINE_BINARY: placeholder,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1',
  };
}

/** Runs the Prisma CLI in the project root; resolves with its output, rejects on failure. */
export function runPrismaCli(args: string[], databaseUrl: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${projectRoot}node_modules/prisma/build/index.js`, ...args], {
      cwd: projectRoot,
      env: prismaCliEnv(databaseUrl),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`prisma ${args.join(' ')} failed (exit ${code}):\n${out.trim()}`));
    });
  });
}

/** CREATE DATABASE when the one named in the URL is missing (connecting to `postgres`). */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('DATABASE_URL names no database');
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return true;
  } catch (err) {
    // Two processes starting at once: the loser of the race sees duplicate_database, or a
    // unique violation on pg_database when both passed the check above.
    const code = (err as { code?: string }).code;
    if (code === '42P04' || code === '23505') return false;
    throw err;
  } finally {
    await admin.end();
  }
}

/** Creates the database if needed and applies pending migrations. Concurrent callers (API,
 * worker and sequencer starting together) are serialized by an advisory lock on the
 * `postgres` database, held until the Prisma CLI has finished. */
export async function migrate(databaseUrl: string): Promise<{ created: boolean; output: string }> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(
      "SELECT 1 AS locked FROM (SELECT pg_advisory_lock(hashtext('claimtrail:migrate:' || $1))) l",
      [name],
    );
    const created = await ensureDatabase(databaseUrl);
    const output = await runPrismaCli(['migrate', 'deploy'], databaseUrl);
    return { created, output };
  } finally {
    await admin.end();
  }
}

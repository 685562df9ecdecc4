// Creates the database when it does not exist and applies prisma/migrations (with
// src/db/migration-runner.ts: Prisma 7's `migrate deploy` needs a native engine we cannot
// download), as the owner (MIGRATION_DATABASE_URL); then grants the runtime role (DATABASE_URL)
// what src/db/runtime-grants.ts lists. Works on an empty or an older database; safe to run on
// every start. Also runs the Prisma CLI for `db generate`.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Config } from '../config/env.ts';
import { grantRuntimeRole, type RuntimeGrantReport, roleOf } from './grant-runtime.ts';
import { applyMigrations } from './migration-runner.ts';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Environment for the Prisma CLI. Its native schema engine cannot be downloaded on our
 * machines and `generate` never runs it: pointing the variable at any existing file stops the
 * CLI from trying the download first. */
export function prismaCliEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const placeholder = fileURLToPath(import.meta.url);
  return {
    ...process.env,
    DATABASE_URL: databaseUrl,
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

const databaseName = (databaseUrl: string) =>
  decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ''));

/** CREATE DATABASE when the one named in the URL is missing (connecting to `postgres`). */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = databaseName(databaseUrl);
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

export interface MigrateResult {
  created: boolean;
  output: string;
  /** Set when a runtime role other than the owner was given (and granted). */
  runtime?: RuntimeGrantReport;
}

/** Grants to a runtime role other than the owner; none when both URLs log in as one role. */
async function grantIfSeparate(
  databaseUrl: string,
  runtimeUrl: string,
): Promise<RuntimeGrantReport | undefined> {
  if (databaseName(runtimeUrl) !== databaseName(databaseUrl)) {
    throw new Error(
      `DATABASE_URL names database ${databaseName(runtimeUrl)} but MIGRATION_DATABASE_URL names ${databaseName(databaseUrl)}: ` +
        'they must name the same database (migrations run as the owner, the service as the runtime role)',
    );
  }
  const [owner, runtime] = await Promise.all([roleOf(databaseUrl), roleOf(runtimeUrl)]);
  if (owner === runtime) return undefined;
  return withClient(databaseUrl, (client) => grantRuntimeRole(client, runtimeUrl));
}

async function withClient<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the database if needed and applies pending migrations as the owner `databaseUrl`;
 * with `runtimeUrl` (another role on the same database), then grants that role what it needs.
 * Concurrent callers (API, worker and sequencer starting together) are serialized by an
 * advisory lock on the `postgres` database, held until the grants are made. */
export async function migrate(
  databaseUrl: string,
  options: { runtimeUrl?: string } = {},
): Promise<MigrateResult> {
  const url = new URL(databaseUrl);
  const name = databaseName(databaseUrl);
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(
      "SELECT 1 AS locked FROM (SELECT pg_advisory_lock(hashtext('claimtrail:migrate:' || $1))) l",
      [name],
    );
    const created = await ensureDatabase(databaseUrl);
    const output = await withClient(databaseUrl, applyMigrations);
    const runtime = options.runtimeUrl ? await grantIfSeparate(databaseUrl, options.runtimeUrl) : undefined;
    return { created, output, ...(runtime ? { runtime } : {}) };
  } finally {
    await admin.end();
  }
}

/** `db migrate` as configured: MIGRATION_DATABASE_URL migrates, DATABASE_URL is granted. */
export function migrateConfigured(cfg: Pick<Config, 'DATABASE_URL' | 'MIGRATION_DATABASE_URL'>) {
  return migrate(cfg.MIGRATION_DATABASE_URL, { runtimeUrl: cfg.DATABASE_URL });
}

/** One line for logs and the CLI: what the grants did, or why there were none. */
export function describeGrants(result: MigrateResult): string {
  const r = result.runtime;
  if (!r) {
    return 'DATABASE_URL and MIGRATION_DATABASE_URL log in as one role: no least-privilege grants (the service runs as the owner)';
  }
  return (
    `${r.created ? `created the runtime role ${r.role} (the migration role may create roles); ` : ''}` +
    `granted ${r.role} least privilege on ${r.tables} tables` +
    (r.unlisted.length
      ? `; NO grants on ${r.unlisted.join(', ')} (not listed in src/db/runtime-grants.ts)`
      : '')
  );
}

// A benchmark's own scratch resources: a fresh, migrated database `claimtrail_bench_<random>`
// on the server of DATABASE_URL (dropped WITH (FORCE) at the end), a log signing key in a temp
// directory, and a Redis key prefix of its own. Only loopback servers: a benchmark creates and
// drops databases and saturates the server, which it must never do to a shared one.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Config } from '../../src/config/env.ts';
import { migrate } from '../../src/db/migrate.ts';
import { generateSignerKey } from '../../src/log/note.ts';

export interface BenchResources {
  /** The benchmark's own database, as its owner (env has the runtime role's URL). */
  url: string;
  database: string;
  keyFile: string;
  signerKey: string;
  verifierKey: string;
  redisPrefix: string;
  /** Environment overrides for parseConfig so the real app uses these resources. */
  env: Record<string, string>;
  migrateSeconds: number;
  /** Drops the database WITH (FORCE) and removes the temp directory; safe to call twice. */
  cleanup(): Promise<void>;
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

export function requireLoopback(what: string, url: string): void {
  const { hostname } = new URL(url);
  if (!isLoopback(hostname)) {
    throw new Error(`${what} points at ${hostname}: benchmarks only run against a loopback server`);
  }
}

function adminUrl(url: string): string {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  return admin.toString();
}

export async function createBenchResources(base: Config): Promise<BenchResources> {
  requireLoopback('DATABASE_URL', base.DATABASE_URL);
  requireLoopback('MIGRATION_DATABASE_URL', base.MIGRATION_DATABASE_URL);
  requireLoopback('REDIS_URL', base.REDIS_URL);
  const suffix = randomBytes(4).toString('hex');
  const database = `claimtrail_bench_${suffix}`;
  // The benchmark itself works as the owner (its baselines create tables); the services it
  // starts (env) run as the runtime role, as in production.
  const url = new URL(base.MIGRATION_DATABASE_URL);
  url.pathname = `/${database}`;
  const runtimeUrl = new URL(base.DATABASE_URL);
  runtimeUrl.pathname = `/${database}`;
  const dir = await mkdtemp(join(tmpdir(), `claimtrail-bench-${suffix}-`));
  const keyFile = join(dir, 'log-signing.key');
  const { signerKey, verifierKey } = generateSignerKey(base.LOG_ORIGIN);
  await writeFile(keyFile, `${signerKey}\n`, { mode: 0o600, flag: 'wx' });

  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    const admin = new pg.Client({ connectionString: adminUrl(url.toString()) });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
    } finally {
      await admin.end();
      await rm(dir, { recursive: true, force: true });
    }
  };

  const started = Date.now();
  try {
    await migrate(url.toString(), { runtimeUrl: runtimeUrl.toString() });
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
  const redisPrefix = `claimtrail-bench-${suffix}`;
  return {
    url: url.toString(),
    database,
    keyFile,
    signerKey,
    verifierKey,
    redisPrefix,
    env: {
      DATABASE_URL: runtimeUrl.toString(),
      MIGRATION_DATABASE_URL: url.toString(),
      LOG_SIGNING_KEY_FILE: keyFile,
      REDIS_PREFIX: redisPrefix,
    },
    migrateSeconds: (Date.now() - started) / 1000,
    cleanup,
  };
}

/** One line naming the Postgres settings that decide write and read speed. */
export async function describeServer(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; setting: string; unit: string | null }>(
      `SELECT name, setting, unit FROM pg_settings
       WHERE name IN ('server_version', 'shared_buffers', 'synchronous_commit', 'fsync', 'work_mem', 'max_connections')
       ORDER BY name`,
    );
    return `postgres: ${rows.map((r) => `${r.name}=${r.setting}${r.unit ?? ''}`).join(' ')}`;
  } finally {
    await client.end();
  }
}

// prisma/migrations and prisma/schema.prisma must describe the same database, and migrate()
// must be safe to run on every start. Two scratch databases on the test server:
//   A ← migrate() (the migrations, as production applies them),
//   B ← the SQL Prisma derives from schema.prisma (`migrate diff --from-empty`, through
//       Prisma's wasm schema engine: test/helpers/prisma-schema-sql.ts).
// Their catalogs are compared. Triggers and their functions exist only in the migrations
// (raw SQL Prisma cannot express) and are left out, as is Prisma's `_prisma_migrations`.
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.ts';
import { applyMigrations, readMigrations } from '../../src/db/migration-runner.ts';
import { schemaSql } from '../helpers/prisma-schema-sql.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const suffix = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;

// As the owner: creating databases is beyond the runtime role the suite otherwise runs as.
function databaseUrl(name: string): string {
  const url = new URL(process.env.MIGRATION_DATABASE_URL ?? '');
  url.pathname = `/${name}`;
  return url.toString();
}
const urlA = databaseUrl(`claimtrail_drift_a_${suffix}`);
const urlB = databaseUrl(`claimtrail_drift_b_${suffix}`);
const adminUrl = databaseUrl('postgres');

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const nameOf = (url: string) => pg.escapeIdentifier(new URL(url).pathname.slice(1));

/** One line per catalog fact of schema `public`, sorted. */
async function catalog(url: string): Promise<string[]> {
  return withClient(url, async (c) => {
    const q = async (sql: string) => (await c.query<{ line: string }>(sql)).rows.map((r) => r.line);
    const lines = [
      ...(await q(`SELECT 'table ' || c.relname AS line FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> '_prisma_migrations'`)),
      ...(await q(`SELECT format('column %s.%s: %s%s%s', c.relname, a.attname,
            format_type(a.atttypid, a.atttypmod),
            CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' NULL' END,
            COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')) AS line
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> '_prisma_migrations'
            AND a.attnum > 0 AND NOT a.attisdropped`)),
      ...(await q(`SELECT 'index ' || indexdef AS line FROM pg_indexes
          WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'`)),
      ...(await q(`SELECT format('constraint %s.%s (%s): %s', c.relname, con.conname, con.contype,
            pg_get_constraintdef(con.oid)) AS line
          FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relname <> '_prisma_migrations'`)),
      ...(await q(`SELECT format('enum %s: %s', t.typname,
            string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)) AS line
          FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
          JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE n.nspname = 'public' GROUP BY t.typname`)),
      ...(await q(`SELECT 'sequence ' || c.relname AS line FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'S'`)),
    ];
    return lines.sort();
  });
}

/** Readable difference: `- ` only in the migrations (A), `+ ` only in schema.prisma (B). */
function diffCatalogs(a: string[], b: string[]): string {
  const inB = new Set(b);
  const inA = new Set(a);
  return [
    ...a.filter((l) => !inB.has(l)).map((l) => `- only in prisma/migrations: ${l}`),
    ...b.filter((l) => !inA.has(l)).map((l) => `+ only in schema.prisma:     ${l}`),
  ].join('\n');
}

const migrationDirs = readdirSync(`${root}prisma/migrations`, { withFileTypes: true }).filter((d) =>
  d.isDirectory(),
);

const appliedMigrations = (url: string) =>
  withClient(url, async (c) => {
    const { rows } = await c.query<{ name: string }>(
      `SELECT migration_name AS name FROM _prisma_migrations
       WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name`,
    );
    return rows.map((r) => r.name);
  });

let firstRunA: Awaited<ReturnType<typeof migrate>>;

beforeAll(async () => {
  const schemaDdl = async () => {
    await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${nameOf(urlB)}`));
    return schemaSql(`${root}prisma/schema.prisma`, urlB);
  };
  const [resultA, sqlB] = await Promise.all([migrate(urlA), schemaDdl()]);
  firstRunA = resultA;
  expect(sqlB).toContain('CREATE TABLE');
  await withClient(urlB, (c) => c.query(sqlB));
}, 120_000);

afterAll(async () => {
  await withClient(adminUrl, async (c) => {
    for (const url of [urlA, urlB]) await c.query(`DROP DATABASE IF EXISTS ${nameOf(url)} WITH (FORCE)`);
  });
});

describe('schema drift', () => {
  it('prisma/migrations build exactly the database schema.prisma describes', async () => {
    const [a, b] = await Promise.all([catalog(urlA), catalog(urlB)]);
    expect(a.filter((l) => l.startsWith('table ')).length).toBeGreaterThan(0);
    expect(diffCatalogs(a, b), 'prisma/migrations and prisma/schema.prisma disagree').toBe('');
  });

  it('the comparison notices a column, an index and an enum label that differ', async () => {
    await withClient(urlB, async (c) => {
      await c.query('ALTER TABLE "users" ADD COLUMN "nickname" TEXT');
      await c.query('CREATE INDEX "users_name_idx" ON "users" ("name")');
      await c.query(`ALTER TYPE "Role" ADD VALUE 'owner'`);
      await c.query(`ALTER TABLE "api_tokens" ALTER COLUMN "revoked_at" SET DEFAULT now()`);
    });
    const diff = diffCatalogs(await catalog(urlA), await catalog(urlB));
    expect(diff).toMatch(/^\+ only in schema\.prisma: +column users\.nickname: text NULL$/m);
    expect(diff).toMatch(/^\+ .*index CREATE INDEX users_name_idx ON public\.users/m);
    expect(diff).toMatch(/^- .*enum Role: admin, editor, auditor, viewer$/m);
    expect(diff).toMatch(/^\+ .*enum Role: admin, editor, auditor, viewer, owner$/m);
    expect(diff).toMatch(/^- .*column api_tokens\.revoked_at: timestamp\(3\) with time zone NULL$/m);
  });
});

describe('migrate()', () => {
  it('creates a missing database and applies every migration', async () => {
    expect(firstRunA.created).toBe(true);
    expect(await appliedMigrations(urlA)).toEqual(migrationDirs.map((d) => d.name).sort());
  });

  it('is a no-op the second time', async () => {
    const before = await catalog(urlA);
    const again = await migrate(urlA);
    expect(again.created).toBe(false);
    expect(again.output).toMatch(/No pending migrations/i);
    expect(await catalog(urlA)).toEqual(before);
    expect(await appliedMigrations(urlA)).toEqual(migrationDirs.map((d) => d.name).sort());
  }, 60_000);

  it('refuses to run when an applied migration was edited, and changes nothing', async () => {
    const before = await catalog(urlA);
    const edited = readMigrations().map((m, i) => (i === 0 ? { ...m, checksum: '0'.repeat(64) } : m));
    await expect(withClient(urlA, (c) => applyMigrations(c, edited))).rejects.toThrow(
      /20261127000100_foundation were edited after they were applied/,
    );
    expect(await catalog(urlA)).toEqual(before);
  });

  it('a failing migration leaves neither its statements nor its history row behind', async () => {
    const probe = 'CREATE TABLE broken_probe (id int)';
    // One fails in its SQL, one in its history row (the name exceeds VARCHAR(255)): the
    // statements before either failure must be rolled back with it.
    const broken = [
      { name: '29991231000000_broken', sql: `${probe};\nSELECT 1 / 0;`, checksum: 'f'.repeat(64) },
      { name: `29991231000001_${'x'.repeat(300)}`, sql: probe, checksum: 'f'.repeat(64) },
    ];
    for (const m of broken) {
      await expect(withClient(urlA, (c) => applyMigrations(c, [...readMigrations(), m]))).rejects.toThrow(
        /migration 2999123100000\d_\w+ failed \(nothing of it was applied\): (division by zero|value too long)/,
      );
      expect((await catalog(urlA)).filter((l) => l.includes('broken_probe'))).toEqual([]);
      expect(await appliedMigrations(urlA)).toEqual(migrationDirs.map((d) => d.name).sort());
    }
  });
});

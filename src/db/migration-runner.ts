// Applies prisma/migrations/*/migration.sql in name order: the project's own `migrate deploy`.
// Prisma 7's migrate commands run only its native schema engine, which these machines cannot
// download (README "Prisma on machines that cannot download engines"), so the SQL files are
// applied here. History stays in Prisma's `_prisma_migrations` table with Prisma's checksum
// (SHA-256 hex of the file), so databases migrated by `prisma migrate deploy` carry on, and a
// machine that can run Prisma's engine still reads the same history.
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

export const migrationsDir = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url));

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

/** The migrations of `dir`, in the order they apply (directory names sort by timestamp). */
export function readMigrations(dir = migrationsDir): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(`${dir}/${name}/migration.sql`, 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

// Prisma's own definition of the table, so either tool can continue the other's history.
const historyTable = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

interface HistoryRow {
  migration_name: string;
  checksum: string;
  finished: boolean;
}

/** Applies the migrations `client`'s database lacks, each in its own transaction together with
 * its history row, so a failing one leaves neither schema nor history half-written. The caller
 * serializes concurrent runs (src/db/migrate.ts holds an advisory lock). Refuses to run when an
 * applied migration's file changed since, or when Prisma left a failed migration behind.
 * Returns a report in the words of `prisma migrate deploy`. */
export async function applyMigrations(client: pg.Client, migrations = readMigrations()): Promise<string> {
  await client.query(historyTable);
  const { rows } = await client.query<HistoryRow>(
    `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished FROM "_prisma_migrations"
     WHERE rolled_back_at IS NULL`,
  );
  const failed = rows.filter((r) => !r.finished).map((r) => r.migration_name);
  if (failed.length) {
    throw new Error(
      `migrations ${failed.join(', ')} failed earlier and are marked unfinished in _prisma_migrations: ` +
        'repair the database by hand, then set rolled_back_at on their rows',
    );
  }
  const applied = new Map(rows.map((r) => [r.migration_name, r.checksum]));
  const changed = migrations.filter((m) => applied.has(m.name) && applied.get(m.name) !== m.checksum);
  if (changed.length) {
    throw new Error(
      `migrations ${changed.map((m) => m.name).join(', ')} were edited after they were applied ` +
        '(checksum differs from _prisma_migrations): add a new migration instead',
    );
  }
  const pending = migrations.filter((m) => !applied.has(m.name));
  if (!pending.length) return `${migrations.length} migrations found. No pending migrations to apply.`;
  for (const m of pending) {
    await client.query('BEGIN');
    try {
      await client.query(m.sql);
      await client.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
         VALUES ($1, $2, $3, now(), clock_timestamp(), 1)`,
        [randomUUID(), m.checksum, m.name],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw new Error(`migration ${m.name} failed (nothing of it was applied): ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return `${migrations.length} migrations found. Applied ${pending.length}: ${pending.map((m) => m.name).join(', ')}`;
}

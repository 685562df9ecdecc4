// Least privilege in Postgres: the role the service runs as (DATABASE_URL, which the whole suite
// uses) cannot rewrite the ledger — no trigger switch, no UPDATE/DELETE/TRUNCATE, no ownership —
// holds exactly the grants of src/db/runtime-grants.ts, and a process whose role could rewrite
// the ledger says so loudly at startup.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { grantRuntimeRole } from '../../src/db/grant-runtime.ts';
import { createPgPool } from '../../src/db/pg-pool.ts';
import {
  ledgerTables,
  runtimeFunctionGrants,
  runtimeTableGrants,
  tablesWithoutGrants,
} from '../../src/db/runtime-grants.ts';
import { ledgerRisks, warnIfLedgerWritable } from '../../src/db/runtime-privileges.ts';
import { useTestContext, waitFor } from '../helpers/context.ts';
import { asOwner, ownerUrlFor } from '../helpers/databases.ts';
import { freePort } from '../helpers/net.ts';

const ctx = useTestContext();
const runtimeUrl = ctx.config.DATABASE_URL;
const root = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `sql` in a transaction that is always rolled back (harmless should it succeed). */
async function attempt(pool: pg.Pool, sql: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(sql);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

const refused = /permission denied|must be owner/;
const someColumn: Record<(typeof ledgerTables)[number], string> = {
  ledger_events: 'type',
  log_entries: 'event_hash',
  log_hashes: 'hash',
  log_checkpoints: 'note',
  log_keys: 'verifier_key',
  log_timestamps: 'token',
  log_cosignatures: 'signature',
  log_pending: 'event_id',
};

describe('the runtime role', () => {
  it.each(ledgerTables)(
    'cannot disable the triggers of, UPDATE, DELETE from or TRUNCATE %s',
    async (table) => {
      const statements = [
        `ALTER TABLE ${table} DISABLE TRIGGER ALL`,
        `ALTER TABLE ${table} OWNER TO CURRENT_USER`,
        `UPDATE ${table} SET ${someColumn[table]} = ${someColumn[table]} WHERE false`,
        `TRUNCATE ${table}`,
      ];
      // The sequencer drains its queue: DELETE there is the one it needs.
      if (table !== 'log_pending') statements.push(`DELETE FROM ${table} WHERE false`);
      for (const sql of statements) await expect(attempt(ctx.pool, sql), sql).rejects.toThrow(refused);
    },
  );

  it('cannot turn triggers off for its session, create objects or take the owner role', async () => {
    for (const sql of [
      'SET session_replication_role = replica',
      'CREATE TABLE ledger_shadow (id int)',
      `CREATE FUNCTION claimtrail_x() RETURNS int LANGUAGE sql AS 'SELECT 1'`,
      'CREATE ROLE claimtrail_intruder',
    ]) {
      await expect(attempt(ctx.pool, sql), sql).rejects.toThrow(refused);
    }
    expect(await ledgerRisks(ctx.pool)).toMatchObject({ risks: [] });
    const { rows } = await ctx.pool.query<{ relname: string }>(
      `SELECT relname FROM pg_class WHERE pg_has_role(current_user, relowner, 'MEMBER')
         AND relnamespace = 'public'::regnamespace`,
    );
    expect(rows).toEqual([]);
  });

  it('holds exactly the grants of runtime-grants.ts, on every table of the schema', async () => {
    const verbs = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'];
    const { rows } = await ctx.pool.query<{ name: string; held: string[] }>(
      `SELECT c.relname AS name,
         array(SELECT v FROM unnest($1::text[]) v WHERE has_table_privilege(current_user, c.oid, v)) AS held
       FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
       ORDER BY 1`,
      [verbs],
    );
    const unlisted = rows
      .map((r) => r.name)
      .filter((n) => !runtimeTableGrants[n] && !(tablesWithoutGrants as readonly string[]).includes(n));
    expect(unlisted, 'tables missing from src/db/runtime-grants.ts').toEqual([]);
    const held = Object.fromEntries(rows.map((r) => [r.name, r.held]));
    const expected = Object.fromEntries(rows.map((r) => [r.name, [...(runtimeTableGrants[r.name] ?? [])]]));
    expect(held).toEqual(expected);
  });

  it('may execute exactly the functions of runtimeFunctionGrants, each SECURITY INVOKER', async () => {
    const { rows } = await ctx.pool.query<{ name: string; definer: boolean }>(
      `SELECT p.proname AS name, p.prosecdef AS definer FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace AND has_function_privilege(current_user, p.oid, 'EXECUTE')
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
       ORDER BY 1`,
    );
    expect(rows).toEqual([...runtimeFunctionGrants].sort().map((name) => ({ name, definer: false })));
  });

  // The refusal fails `db migrate` loudly (one transaction: no grant changes at all).
  it('is never granted a SECURITY DEFINER function, even one listed (it would run as the owner)', async () => {
    await asOwner(runtimeUrl, async (owner) => {
      // An overload of a listed name: appendEvent's five-text-argument call never resolves to it.
      await owner.query(
        `CREATE FUNCTION ledger_append(x int) RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT x'`,
      );
      try {
        await expect(grantRuntimeRole(owner, runtimeUrl)).rejects.toThrow(
          'ledger_append(integer) is SECURITY DEFINER',
        );
      } finally {
        await owner.query('DROP FUNCTION ledger_append(int)');
      }
    });
  });

  it('loses a privilege someone added when the grants are applied again (each db migrate)', async () => {
    await asOwner(runtimeUrl, async (owner) => {
      const role = (await ctx.pool.query<{ r: string }>('SELECT current_user AS r')).rows[0]!.r;
      await owner.query(`GRANT UPDATE, TRUNCATE ON log_keys TO "${role}"`);
      await expect(attempt(ctx.pool, 'TRUNCATE log_keys')).rejects.toThrow(
        /forbidden: the ledger is append-only/,
      );
      const report = await grantRuntimeRole(owner, runtimeUrl);
      expect(report).toMatchObject({ role, created: false, unlisted: [] });
    });
    await expect(attempt(ctx.pool, 'TRUNCATE log_keys')).rejects.toThrow(refused);
  });
});

/** The lines a logger wrote, parsed. */
function capturedLogger() {
  const lines: { level: number; msg: string; risks?: string[] }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

describe('the startup warning', () => {
  it('is one warn line naming the risk and the fix for an owner or superuser role, none for the runtime role', async () => {
    const ownerPool = createPgPool(ownerUrlFor(runtimeUrl), 1);
    try {
      const owner = capturedLogger();
      await warnIfLedgerWritable(ownerPool, owner.log);
      await new Promise((r) => setImmediate(r));
      expect(owner.lines).toHaveLength(1);
      expect(owner.lines[0]!.level).toBe(40);
      expect(owner.lines[0]!.msg).toMatch(/is a superuser|owns ledger_events/);
      expect(owner.lines[0]!.msg).toMatch(/disable the ledger's triggers/);
      expect(owner.lines[0]!.msg).toContain('MIGRATION_DATABASE_URL');
    } finally {
      await ownerPool.end();
    }
    const runtime = capturedLogger();
    await warnIfLedgerWritable(ctx.pool, runtime.log);
    await new Promise((r) => setImmediate(r));
    expect(runtime.lines).toEqual([]);
  });

  it('is logged once by a real process started with the owner as DATABASE_URL', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['bin/claimtrail.mjs', 'api'], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: ownerUrlFor(runtimeUrl),
        PORT: String(port),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    try {
      await waitFor(async () => stdout.includes('api listening'), 30_000);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    const warnings = stdout.split('\n').filter((l) => l.includes('SECURITY: the DATABASE_URL role'));
    expect(warnings, stdout).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, risks: expect.any(Array) });
  });
});

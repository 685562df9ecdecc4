// Applies src/db/runtime-grants.ts to the runtime role, as the migration (owner) role, after
// every `db migrate`: creates the role when it does not exist, then revokes everything it holds
// on the schema and grants exactly the listed verbs. Idempotent, and one transaction, so a
// running service never sees a table without its grants.
import pg from 'pg';
import { runtimeFunctionGrants, runtimeTableGrants, tablesWithoutGrants } from './runtime-grants.ts';

export interface RuntimeGrantReport {
  role: string;
  /** The role did not exist and was created (LOGIN, with the password of DATABASE_URL). */
  created: boolean;
  tables: number;
  /** Tables of the schema that runtime-grants.ts does not list: the role gets nothing there. */
  unlisted: string[];
}

/** The role a connection URL logs in as (asking the server when the URL names no user). */
export async function roleOf(databaseUrl: string): Promise<string> {
  const user = decodeURIComponent(new URL(databaseUrl).username);
  if (user) return user;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ role: string }>('SELECT current_user AS role');
    return rows[0]!.role;
  } finally {
    await client.end();
  }
}

/** CREATE ROLE … LOGIN unless it exists (a plain role: no superuser, no BYPASSRLS, no
 * CREATEROLE). The migration role needs CREATEROLE for that; an existing role is left as is. */
async function ensureRole(owner: pg.ClientBase, role: string, password: string): Promise<boolean> {
  const found = await owner.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  if (found.rowCount) return false;
  try {
    await owner.query(
      `CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION` +
        (password ? ` PASSWORD ${pg.escapeLiteral(password)}` : ''),
    );
    return true;
  } catch (err) {
    // Two migrations creating the role at once (roles are cluster-wide, databases are not).
    const code = (err as { code?: string }).code;
    if (code === '42710' || code === '23505') return false;
    if (code === '42501') {
      throw new Error(
        `the runtime role ${role} (DATABASE_URL) does not exist and the role of MIGRATION_DATABASE_URL may not create roles: ` +
          `create it (CREATE ROLE ${role} LOGIN PASSWORD '…') or give the migration role CREATEROLE`,
      );
    }
    throw err;
  }
}

/** The grants, revokes first. `runtimeUrl` names the role; `owner` is connected to the
 * migrated database as its owner. */
export async function grantRuntimeRole(
  owner: pg.ClientBase,
  runtimeUrl: string,
): Promise<RuntimeGrantReport> {
  const role = await roleOf(runtimeUrl);
  const created = await ensureRole(owner, role, decodeURIComponent(new URL(runtimeUrl).password));
  const r = pg.escapeIdentifier(role);
  const { rows: tables } = await owner.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1`,
  );
  const { rows: functions } = await owner.query<{ signature: string; name: string; definer: boolean }>(
    // Ours only: functions an extension installed in public keep their own grants.
    `SELECT p.oid::regprocedure::text AS signature, p.proname AS name, p.prosecdef AS definer
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')`,
  );
  const database = (await owner.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
  const unlisted: string[] = [];
  let granted = 0;
  await owner.query('BEGIN');
  try {
    // PostgreSQL < 15 lets every role create objects in public; nobody but the owner should.
    await owner.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    await owner.query(`REVOKE ALL ON SCHEMA public FROM ${r}`);
    await owner.query(`GRANT USAGE ON SCHEMA public TO ${r}`);
    await owner.query(`GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(database)} TO ${r}`);
    await owner.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, ${r}`);
    await owner.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, ${r}`);
    for (const { signature, name, definer } of functions) {
      await owner.query(`REVOKE ALL ON FUNCTION ${signature} FROM PUBLIC, ${r}`);
      if (!runtimeFunctionGrants.includes(name)) continue;
      // A SECURITY DEFINER function would run with the owner's rights: never hand one out.
      if (definer) throw new Error(`${signature} is SECURITY DEFINER: the runtime role may not execute it`);
      await owner.query(`GRANT EXECUTE ON FUNCTION ${signature} TO ${r}`);
    }
    for (const { name } of tables) {
      const verbs = runtimeTableGrants[name];
      if (!verbs) {
        if (!(tablesWithoutGrants as readonly string[]).includes(name)) unlisted.push(name);
        continue;
      }
      const table = pg.escapeIdentifier(name);
      granted++;
      await owner.query(`GRANT ${verbs.join(', ')} ON TABLE ${table} TO ${r}`);
      if (verbs.includes('INSERT')) {
        // Serial and identity columns: their sequences (nextval needs USAGE).
        const { rows: seqs } = await owner.query<{ seq: string }>(
          `SELECT d.objid::regclass::text AS seq FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
           WHERE d.refobjid = $1::regclass AND s.relkind = 'S' AND d.deptype IN ('a', 'i')`,
          [table],
        );
        for (const { seq } of seqs) await owner.query(`GRANT USAGE ON SEQUENCE ${seq} TO ${r}`);
      }
    }
    await owner.query('COMMIT');
  } catch (err) {
    await owner.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return { role, created, tables: granted, unlisted };
}

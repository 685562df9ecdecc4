// The startup check of api, worker and sequencer: a DATABASE_URL role that could rewrite the
// chain of custody (superuser, BYPASSRLS, CREATEROLE, owner of a ledger table directly or by
// membership, or holding UPDATE/DELETE/TRUNCATE on one) gets one loud warning line.
import type { Logger } from 'pino';
import type { Queryable } from '../log/log.repository.ts';
import { ledgerTables } from './runtime-grants.ts';

/** What the connected role could do to the ledger that it should not; empty when nothing. */
export async function ledgerRisks(db: Queryable): Promise<{ role: string; risks: string[] }> {
  const { rows } = await db.query<{
    role: string;
    rolsuper: boolean;
    rolbypassrls: boolean;
    rolcreaterole: boolean;
    owned: string[] | null;
    writable: string[] | null;
  }>(
    `SELECT r.rolname AS role, r.rolsuper, r.rolbypassrls, r.rolcreaterole,
       (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname = ANY($1) AND pg_has_role(current_user, c.relowner, 'MEMBER')) AS owned,
       (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname = ANY($2)
          AND has_table_privilege(current_user, c.oid, 'UPDATE, DELETE, TRUNCATE')) AS writable
     FROM pg_roles r WHERE r.rolname = current_user`,
    [[...ledgerTables], [...ledgerTables.filter((t) => t !== 'log_pending')]],
  );
  const r = rows[0];
  if (!r) return { role: 'unknown', risks: [] };
  const risks: string[] = [];
  if (r.rolsuper) risks.push('is a superuser');
  if (r.rolbypassrls) risks.push('has BYPASSRLS');
  if (r.rolcreaterole) risks.push('has CREATEROLE (can grant itself the owner role)');
  if (r.owned?.length) risks.push(`owns ${r.owned.join(', ')} (directly or by membership)`);
  else if (r.writable?.length) risks.push(`may UPDATE, DELETE or TRUNCATE ${r.writable.join(', ')}`);
  return { role: r.role, risks };
}

/** One warn line when the runtime role is too powerful; a failed check is logged, not fatal
 * (the database may be down at startup: readiness reports that). */
export async function warnIfLedgerWritable(db: Queryable, log: Logger): Promise<void> {
  try {
    const { role, risks } = await ledgerRisks(db);
    if (risks.length === 0) return;
    log.warn(
      { databaseRole: role, risks },
      `SECURITY: the DATABASE_URL role ${role} ${risks.join('; ')}: it can disable the ledger's triggers and rewrite the chain of custody. ` +
        'Fix: run api, worker and sequencer as a plain login role (DATABASE_URL) and migrations as the owner ' +
        '(MIGRATION_DATABASE_URL); `claimtrail db migrate` then grants the runtime role only what it needs.',
    );
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not check the DATABASE_URL role for ledger privileges');
  }
}

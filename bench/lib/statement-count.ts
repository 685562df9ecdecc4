// SQL statements sent per party, counted in this process: every query of every pg client
// (Prisma's driver adapter goes through pg too) is counted under its connection's
// `application_name`, which each party's context sets in its DATABASE_URL (withParty). BEGIN
// and COMMIT count: each is a round trip. pg_stat_statements would need the server's
// shared_preload_libraries (a restart), which a benchmark must not do to a shared server.
import pg from 'pg';

const counts = new Map<string, number>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const party =
      (this as unknown as { connectionParameters?: { application_name?: string } }).connectionParameters
        ?.application_name ?? 'unnamed';
    counts.set(party, (counts.get(party) ?? 0) + 1);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
}

/** `url` with `application_name=<party>`: statements on its connections count as the party's. */
export function withParty(url: string, party: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', party);
  return u.toString();
}

export type StatementCounts = ReadonlyMap<string, number>;

/** Starts counting (once per process); the counts so far, per party. */
export function statementCounts(): StatementCounts {
  install();
  return new Map(counts);
}

/** Statements each party sent between two snapshots. */
export function statementsBetween(before: StatementCounts, after: StatementCounts): Map<string, number> {
  const out = new Map<string, number>();
  for (const [party, n] of after) {
    const d = n - (before.get(party) ?? 0);
    if (d > 0) out.set(party, d);
  }
  return out;
}

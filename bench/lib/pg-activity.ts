// What a workload did to one database, from Postgres's cumulative statistics: transactions
// committed and, per table, index/sequential scans and rows inserted, updated, deleted. Taken
// around two workloads and divided by their operation counts, it shows whether a baseline
// (a pgbench script) does the same work per operation as the code it stands for — the same
// number of transactions, the same lookups, the same writes — without pg_stat_statements,
// which needs a server restart to load. Backends publish their counters when idle, at most
// a second apart at best; one that flushed less than a second before going idle publishes the
// rest only after PGSTAT_IDLE_INTERVAL (10 s in PostgreSQL 15). So a reading after a load on
// connections that stay open waits that long; one after pgbench, whose backends flush as they
// exit, only until two readings agree.
import pg from 'pg';
import { sleep } from './load.ts';

export interface TableActivity {
  scans: number;
  inserts: number;
  updates: number;
  deletes: number;
}

export interface Activity {
  commits: number;
  rollbacks: number;
  tables: Map<string, TableActivity>;
}

async function read(client: pg.ClientBase): Promise<Activity> {
  // Inside the monitor's transaction the statistics are cached until cleared.
  await client.query('SELECT pg_stat_clear_snapshot()');
  const db = await client.query<{ commits: string; rollbacks: string }>(
    `SELECT xact_commit::text AS commits, xact_rollback::text AS rollbacks
     FROM pg_stat_database WHERE datname = current_database()`,
  );
  const t = await client.query<{ name: string; scans: string; ins: string; upd: string; del: string }>(
    `SELECT relname AS name, (coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::text AS scans,
            n_tup_ins::text AS ins, n_tup_upd::text AS upd, n_tup_del::text AS del
     FROM pg_stat_user_tables`,
  );
  return {
    commits: Number(db.rows[0]?.commits ?? 0),
    rollbacks: Number(db.rows[0]?.rollbacks ?? 0),
    tables: new Map(
      t.rows.map((r) => [
        r.name,
        { scans: Number(r.scans), inserts: Number(r.ins), updates: Number(r.upd), deletes: Number(r.del) },
      ]),
    ),
  };
}

const key = (a: Activity) =>
  JSON.stringify([a.commits, a.rollbacks, [...a.tables.entries()].sort(([x], [y]) => x.localeCompare(y))]);

/** Postgres publishes an idle backend's last counters at most this long after it went idle. */
export const IDLE_PUBLISH_MS = 10_500;

export interface ActivityMonitor {
  /**
   * The database's counters once every backend has published its share: after `settleMs`
   * (pass IDLE_PUBLISH_MS when the load's connections are still open), then until two readings
   * agree.
   */
  snapshot(settleMs?: number): Promise<Activity>;
  /** For the bench's own queries meanwhile: counted only once the monitor is closed. */
  client: pg.ClientBase;
  close(): Promise<void>;
}

/**
 * A connection on `url` that reads the counters from inside one open transaction: a backend
 * publishes its own counters only outside a transaction, so the readings (and whatever else the
 * bench asks on `client`, e.g. a count(*)) add nothing to what they measure until close().
 */
export async function openActivityMonitor(url: string): Promise<ActivityMonitor> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN READ ONLY');
  return {
    client,
    async snapshot(settleMs = 0) {
      if (settleMs > 0) await sleep(settleMs);
      const deadline = Date.now() + 6000;
      let last = await read(client);
      for (;;) {
        await sleep(1200);
        const next = await read(client);
        if (key(next) === key(last) || Date.now() > deadline) return next;
        last = next;
      }
    },
    async close() {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end();
    },
  };
}

/** Per-operation work between two snapshots; tables with nothing per operation are left out. */
export interface WorkPerOp {
  commits: number;
  rollbacks: number;
  tables: [string, TableActivity][];
}

export function workPerOp(before: Activity, after: Activity, ops: number): WorkPerOp {
  const per = (a: number, b: number) => (ops > 0 ? (b - a) / ops : Number.NaN);
  const tables: [string, TableActivity][] = [];
  for (const [name, b] of after.tables) {
    const a = before.tables.get(name) ?? { scans: 0, inserts: 0, updates: 0, deletes: 0 };
    const t = {
      scans: per(a.scans, b.scans),
      inserts: per(a.inserts, b.inserts),
      updates: per(a.updates, b.updates),
      deletes: per(a.deletes, b.deletes),
    };
    // Below 0.05 per operation is not the workload's own work (the bench's setup, autovacuum).
    if (Object.values(t).some((v) => v >= 0.05)) tables.push([name, t]);
  }
  tables.sort(([x], [y]) => x.localeCompare(y));
  return {
    commits: per(before.commits, after.commits),
    rollbacks: per(before.rollbacks, after.rollbacks),
    tables,
  };
}

const r1 = (v: number) => (Math.round(v * 10) / 10).toString();

/** "1.0 commits; api_tokens 1.0 scans; claims 1.0 inserts; …" */
export function describeWork(w: WorkPerOp): string {
  const parts = w.tables.map(([name, t]) => {
    const what = (
      [
        ['scans', t.scans],
        ['ins', t.inserts],
        ['upd', t.updates],
        ['del', t.deletes],
      ] as const
    )
      .filter(([, v]) => v >= 0.05)
      .map(([label, v]) => `${r1(v)} ${label}`);
    return `${name} ${what.join(' ')}`;
  });
  return `${r1(w.commits)} commits${w.rollbacks >= 0.05 ? `, ${r1(w.rollbacks)} rollbacks` : ''}; ${parts.join('; ')}`;
}

/** Where two workloads differ per operation by more than `tolerance` (empty: the same work). */
export function workDifferences(a: WorkPerOp, b: WorkPerOp, tolerance = 0.1): string[] {
  const out: string[] = [];
  const near = (x: number, y: number) => Math.abs(x - y) <= tolerance;
  if (!near(a.commits, b.commits)) out.push(`commits ${r1(a.commits)} vs ${r1(b.commits)}`);
  if (!near(a.rollbacks, b.rollbacks)) out.push(`rollbacks ${r1(a.rollbacks)} vs ${r1(b.rollbacks)}`);
  const names = new Set([...a.tables.map(([n]) => n), ...b.tables.map(([n]) => n)]);
  const zero = { scans: 0, inserts: 0, updates: 0, deletes: 0 };
  for (const name of [...names].sort()) {
    const x = a.tables.find(([n]) => n === name)?.[1] ?? zero;
    const y = b.tables.find(([n]) => n === name)?.[1] ?? zero;
    for (const field of ['scans', 'inserts', 'updates', 'deletes'] as const) {
      if (!near(x[field], y[field])) out.push(`${name} ${field} ${r1(x[field])} vs ${r1(y[field])}`);
    }
  }
  return out;
}

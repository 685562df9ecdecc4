// Streams a query's rows in constant memory with a server-side cursor (Prisma has no
// streaming reads). Used by full-ledger verification and exports.
import type pg from 'pg';

export async function* streamRows<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  sql: string,
  params: unknown[] = [],
  batchSize = 5_000,
): AsyncGenerator<R[]> {
  const client = await pool.connect();
  let ok = false;
  let pending: Promise<pg.QueryResult<R>> | undefined;
  try {
    // REPEATABLE READ: every batch sees the same snapshot, so a concurrent append cannot
    // make a consistent ledger look torn halfway through a read.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`DECLARE claimtrail_cursor NO SCROLL CURSOR FOR ${sql}`, params);
    const fetch = () => client.query<R>(`FETCH ${batchSize} FROM claimtrail_cursor`);
    // Ask for the next batch before handing out this one, so that Postgres reads while the
    // consumer works (pg runs a client's queries in order, so nothing interleaves).
    pending = fetch();
    for (;;) {
      const { rows } = await pending;
      if (rows.length === 0) break;
      pending = fetch();
      yield rows;
    }
    pending = undefined;
    await client.query('COMMIT');
    ok = true;
  } finally {
    // A consumer that stopped early leaves one FETCH in flight: let it settle first.
    await pending?.catch(() => undefined);
    if (!ok) await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

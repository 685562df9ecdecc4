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
  try {
    // REPEATABLE READ: every batch sees the same snapshot, so a concurrent append cannot
    // make a consistent ledger look torn halfway through a read.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`DECLARE claimtrail_cursor NO SCROLL CURSOR FOR ${sql}`, params);
    for (;;) {
      const { rows } = await client.query<R>(`FETCH ${batchSize} FROM claimtrail_cursor`);
      if (rows.length === 0) break;
      yield rows;
    }
    await client.query('COMMIT');
    ok = true;
  } finally {
    if (!ok) await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

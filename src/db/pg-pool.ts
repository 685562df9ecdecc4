// A plain pg pool for what Prisma cannot do well: streaming reads, advisory-lock sessions,
// catalog queries and the Merkle log's batched hash reads.
import pg from 'pg';
import { logger } from '../lib/logger.ts';

export function createPgPool(databaseUrl: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, connectionTimeoutMillis: 3_000 });
  // An idle client losing its connection (Postgres restarted) must not crash the process:
  // the pool drops that client and the next query reconnects.
  pool.on('error', (err) => logger().warn({ err: err.message }, 'idle Postgres connection lost'));
  return pool;
}

// The unit of work every write runs in. Which path for what, and why:
//   - A write (a state change and its ledger event) runs in `writeTransaction(pool, tx => …)`
//     on the plain `pg` pool: BEGIN, parameterized statements, COMMIT. Its SQL lives in the
//     domain's `*-store.ts` module as small typed functions taking a `WriteTx` (one row
//     interface per statement, columns aliased to the camelCase names Prisma's types use).
//     An interactive Prisma transaction costs 5–10× the CPU of the same statements here.
//   - A read may stay on Prisma (its types and relation loading are worth the cost there), or
//     use the pool directly when it is hot or streams (authentication, the Merkle log, exports).
//   - Work that must happen only if the transaction commits (enqueueing a job) is registered
//     with `tx.afterCommit`: it runs after COMMIT and never after a rollback.
//   - Fewer round trips: `writeStatement` (below) for a one-statement write; row changes riding
//     in the statement that appends their events (src/db/sql-change.ts); a conditional single-row
//     write and its event in one statement (writeWithEvent, src/ledger/ledger.repository.ts).
//   - Hot statements (the ledger append) are marked with `hotStatement`: each connection then
//     parses and plans them once and afterwards only binds and executes them.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { logger } from '../lib/logger.ts';

export interface WriteTx {
  /** The rows of one parameterized statement. */
  rows<R extends object>(text: string, params?: readonly unknown[]): Promise<R[]>;
  /** The single row of a statement that must return one (an Error otherwise: a bug). */
  one<R extends object>(text: string, params?: readonly unknown[]): Promise<R>;
  /** The first row, if any. */
  maybe<R extends object>(text: string, params?: readonly unknown[]): Promise<R | undefined>;
  /** Runs a statement for its effect; the number of rows it touched. */
  exec(text: string, params?: readonly unknown[]): Promise<number>;
  /** Serializes this transaction with every other one taking the same key, until COMMIT. */
  lock(key: string): Promise<void>;
  /** Runs `fn` after COMMIT (in registration order); its failure is logged, not thrown. */
  afterCommit(fn: () => Promise<unknown> | unknown): void;
  /** The underlying client, for code written against pg directly (cursor reads, COPY). */
  readonly client: pg.ClientBase;
}

// Serialization failures and deadlocks are the database asking for the transaction again;
// the work function only issues statements, so running it again is safe.
const RETRYABLE = new Set(['40001', '40P01']);
const ATTEMPTS = 3;

// One key space for transaction-scoped advisory locks: `hashtextextended(key, 0)` of a text
// key naming what is locked (`source:<investigation>:<identity>`, `recapture:<source id>` …).
// The ledger's own per-subject lock (SQL function ledger_append) uses the same hashing of
// `<subject type>:<subject id>`, so keys here must not take that form.
const LOCK_SQL = 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))';

// Statement text → prepared-statement name, for the texts marked hot.
const preparedNames = new Map<string, string>();

/**
 * Marks a constant statement as hot and returns its text unchanged. Wherever that text is sent
 * through this module (a unit of work, or `queryConfig` on a pool or client) it runs as a named
 * prepared statement: PostgreSQL parses and plans it once per connection, then only binds and
 * executes it (Parse and planning were ~15 % of the server's time per ledger append). Only for
 * texts fixed in the code: each distinct text stays prepared on every connection of the pool.
 */
export function hotStatement(text: string): string {
  if (!preparedNames.has(text)) {
    preparedNames.set(text, `hot_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`);
  }
  return text;
}

/** The pg query of `text` with `params`: a named prepared statement when the text is hot. */
export function queryConfig(text: string, params?: readonly unknown[]): pg.QueryConfig {
  const name = preparedNames.get(text);
  const values = params as unknown[] | undefined;
  return name === undefined ? { text, values } : { name, text, values };
}

export function writeTransaction<T>(pool: pg.Pool, work: (tx: WriteTx) => Promise<T>): Promise<T> {
  return run(pool, work, false);
}

/**
 * A write that is ONE statement needs no BEGIN and COMMIT: PostgreSQL runs a lone statement as
 * its own transaction, atomic with everything in it (data-modifying WITH queries, the ledger
 * append's advisory lock, which then lasts exactly as long as the statement). Hot one-statement
 * writes (a capture requested or started, an evidence read) save two round trips of three.
 * The work may issue only one statement (a second would not be atomic with the first: a
 * programming error, thrown before it is sent) and cannot take `tx.lock`.
 */
export function writeStatement<T>(pool: pg.Pool, work: (tx: WriteTx) => Promise<T>): Promise<T> {
  return run(pool, work, true);
}

async function run<T>(pool: pg.Pool, work: (tx: WriteTx) => Promise<T>, single: boolean): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    const after: (() => Promise<unknown> | unknown)[] = [];
    let broken: Error | undefined;
    try {
      if (!single) await client.query('BEGIN');
      const result = await work(txOn(client, after, single));
      if (!single) await client.query('COMMIT');
      client.release();
      await runAfterCommit(after);
      return result;
    } catch (err) {
      if (!single) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          broken = rollbackErr as Error; // the connection is gone: do not return it to the pool
        }
      }
      client.release(broken);
      const code = (err as { code?: string }).code;
      if (code && RETRYABLE.has(code) && attempt < ATTEMPTS) continue;
      throw err;
    }
  }
}

function txOn(client: pg.ClientBase, after: (() => Promise<unknown> | unknown)[], single: boolean): WriteTx {
  let sent = false;
  const send = async <R extends object>(text: string, params?: readonly unknown[]) => {
    if (single && sent)
      throw new Error(`writeStatement allows one statement; a second: ${text.slice(0, 80)}`);
    sent = true;
    return client.query<R>(queryConfig(text, params));
  };
  const rows = async <R extends object>(text: string, params?: readonly unknown[]) =>
    (await send<R>(text, params)).rows;
  return {
    client,
    rows,
    async one<R extends object>(text: string, params?: readonly unknown[]) {
      const found = await rows<R>(text, params);
      if (found.length !== 1) throw new Error(`expected one row, got ${found.length}: ${text.slice(0, 80)}`);
      return found[0]!;
    },
    async maybe<R extends object>(text: string, params?: readonly unknown[]): Promise<R | undefined> {
      const found: R[] = await rows<R>(text, params);
      return found[0];
    },
    async exec(text: string, params?: readonly unknown[]) {
      return (await send(text, params)).rowCount ?? 0;
    },
    async lock(key: string) {
      if (single) throw new Error('writeStatement cannot hold an advisory lock: use writeTransaction');
      await send(LOCK_SQL, [key]);
    },
    afterCommit(fn) {
      after.push(fn);
    },
  };
}

async function runAfterCommit(after: readonly (() => Promise<unknown> | unknown)[]) {
  for (const fn of after) {
    try {
      await fn();
    } catch (err) {
      logger().warn({ err: (err as Error).message }, 'after-commit step failed');
    }
  }
}

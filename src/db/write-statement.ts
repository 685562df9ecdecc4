// A write that is one statement needs no BEGIN and COMMIT: PostgreSQL runs a lone statement as
// its own transaction, atomic with everything in it (data-modifying WITH queries, the ledger
// append's advisory lock, which then lasts exactly as long as the statement). Hot one-statement
// writes (a capture requested, a capture started, an evidence read) save two round trips of
// three this way. The work gets the WriteTx of src/db/unit-of-work.ts, but may issue only ONE
// statement (a second would no longer be atomic with the first: that is a programming error,
// thrown before it is sent) and cannot take a tx.lock (it would end with that statement).
// afterCommit steps run once the statement has succeeded; a deadlock or serialization failure
// runs the work again, as writeTransaction does.
import type pg from 'pg';
import { logger } from '../lib/logger.ts';
import type { WriteTx } from './unit-of-work.ts';

const RETRYABLE = new Set(['40001', '40P01']);
const ATTEMPTS = 3;

export async function writeStatement<T>(pool: pg.Pool, work: (tx: WriteTx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    const after: (() => Promise<unknown> | unknown)[] = [];
    let result: T;
    try {
      result = await work(oneStatement(client, after));
      client.release();
    } catch (err) {
      client.release();
      const code = (err as { code?: string }).code;
      if (code && RETRYABLE.has(code) && attempt < ATTEMPTS) continue;
      throw err;
    }
    for (const fn of after) {
      try {
        await fn();
      } catch (err) {
        logger().warn({ err: (err as Error).message }, 'after-commit step failed');
      }
    }
    return result;
  }
}

function oneStatement(client: pg.ClientBase, after: (() => Promise<unknown> | unknown)[]): WriteTx {
  let sent = false;
  const rows = async <R extends object>(text: string, params?: readonly unknown[]) => {
    if (sent) throw new Error(`writeStatement allows one statement; a second: ${text.slice(0, 80)}`);
    sent = true;
    return (await client.query<R>(text, params as unknown[])).rows;
  };
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
      if (sent) throw new Error(`writeStatement allows one statement; a second: ${text.slice(0, 80)}`);
      sent = true;
      return (await client.query(text, params as unknown[])).rowCount ?? 0;
    },
    async lock() {
      throw new Error('writeStatement cannot hold an advisory lock: use writeTransaction');
    },
    afterCommit(fn) {
      after.push(fn);
    },
  };
}

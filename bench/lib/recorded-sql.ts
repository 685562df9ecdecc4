// The SQL a piece of product code issues, recorded by running it on a pg pool that notes every
// statement (text and parameters) before sending it: what `npm run bench api` turns into its
// pgbench baseline, so the baseline runs exactly the statements of the code it stands for.
import { createRequire } from 'node:module';
import pg from 'pg';

// node-postgres's own conversion of a parameter (pg/lib/utils.js, untyped): Dates, arrays and
// objects become the text it sends.
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue(value: unknown): unknown;
};

export interface RecordedStatement {
  text: string;
  /** The parameters as node-postgres sends them (text, or a Buffer for bytea), null for NULL. */
  params: (string | Buffer | null)[];
}

type Query = (...args: unknown[]) => unknown;

/** Wraps a client's `query` so each statement is recorded first. */
function wrap(target: { query: Query }, log: RecordedStatement[]) {
  const query = target.query.bind(target);
  target.query = (config: unknown, values?: unknown, ...rest: unknown[]) => {
    const text = typeof config === 'string' ? config : (config as { text: string }).text;
    const raw = (
      Array.isArray(values) ? values : ((config as { values?: unknown[] }).values ?? [])
    ) as unknown[];
    log.push({ text, params: raw.map((v) => prepareValue(v) as string | Buffer | null) });
    return query(config, values, ...rest);
  };
}

/** A pool on `url` whose statements (through pool.query or a checked-out client) are recorded. */
export function recordingPool(url: string): { pool: pg.Pool; statements: RecordedStatement[] } {
  const statements: RecordedStatement[] = [];
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // pool.query checks a client out too: wrapping each client (before it is handed out) records
  // every statement once, whichever way it was sent.
  pool.on('acquire', (client) => {
    const c = client as unknown as { query: Query; __recorded?: true };
    if (c.__recorded) return;
    c.__recorded = true;
    wrap(c, statements);
  });
  return { pool, statements };
}

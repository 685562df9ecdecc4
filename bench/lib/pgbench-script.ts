// A pgbench script from recorded statements (bench/lib/recorded-sql.ts): the same SQL text, its
// `$n` parameters passed as pgbench variables (`-D`, sent as parameters with `-M extended`,
// as node-postgres sends them). One pass of the script repeats one recorded request.
// What pgbench cannot repeat as recorded: a new row's id, which must be new every time. Each
// parameter equal to the recorded id becomes a fresh UUID made per pgbench transaction, time
// ordered like newId()'s UUIDv7 (48 bits of the transaction's milliseconds, then a 40-bit random
// number drawn once per pass), and each parameter containing it (an event body naming the
// row) gets that UUID put in its place.
import type { RecordedStatement } from './recorded-sql.ts';

export interface ScriptPart {
  /** Where the statements come from, written above them as a comment. */
  label: string;
  statements: RecordedStatement[];
}

export interface PgbenchScript {
  text: string;
  /** `-D name=value` definitions the script uses. */
  defines: Record<string, string>;
  /** Statements per pass (one pass = one request). */
  statements: number;
}

const FRESH_ID =
  "(lpad(to_hex((extract(epoch FROM transaction_timestamp()) * 1000)::bigint), 12, '0') || lpad(to_hex(:fresh_random::bigint), 20, '0'))::uuid";

const asDefine = (value: string | Buffer) =>
  typeof value === 'string' ? value : `\\x${value.toString('hex')}`;

export function pgbenchScript(parts: readonly ScriptPart[], freshId: string): PgbenchScript {
  const defines: Record<string, string> = { fresh_recorded: freshId };
  const lines = ['\\set fresh_random random(0, 1099511627775)'];
  let n = 0;
  for (const part of parts) {
    lines.push(`-- ${part.label}`);
    for (const statement of part.statements) {
      n++;
      const text = statement.text
        .trim()
        .replace(/;$/, '')
        .replace(/\$(\d+)/g, (_, k: string) => {
          const value = statement.params[Number(k) - 1];
          if (value === undefined)
            throw new Error(`statement ${n} has no parameter $${k}: ${statement.text}`);
          if (value === null) return 'NULL';
          if (value === freshId) return `(${FRESH_ID})`;
          const name = `s${n}_p${k}`;
          if (value.includes(freshId)) {
            defines[name] = asDefine(value);
            return `replace(:${name}, :fresh_recorded, (${FRESH_ID})::text)`;
          }
          if (typeof value === 'string' && value.includes('\0')) throw new Error('a NUL in a parameter');
          defines[name] = asDefine(value);
          return `:${name}`;
        });
      lines.push(`${text};`);
    }
  }
  return { text: `${lines.join('\n')}\n`, defines, statements: n };
}

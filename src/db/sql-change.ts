// Row changes that ride in one statement with their ledger events. A state change and its
// events must commit together; on the write path (src/db/unit-of-work.ts) that is one
// transaction, and with this it is also one round trip: the changes become data-modifying
// WITH queries of the statement that appends the events (`WITH c1 AS (UPDATE …), c2 AS
// (INSERT …) SELECT … FROM ledger_append_many(…)`). PostgreSQL runs every data-modifying WITH
// query exactly once and to completion whether or not the main query reads it, all in the
// statement's one snapshot (so two changes must not touch the same row), and checks foreign
// keys at the end of the statement (a citation may reference a source inserted beside it).
//
// A change is written by its domain's *-store.ts as a function of `bind`, which adds a
// parameter and returns its placeholder: the SQL text never holds a value, and changes compose
// without renumbering placeholders.

import type { EventType } from '../ledger/event-types.ts';
import { type AppendInput, appendEvents, type LedgerEventView } from '../ledger/ledger.repository.ts';
import type { WriteTx } from './unit-of-work.ts';

/** Adds a parameter; returns its placeholder (`$n`). */
export type Bind = (value: unknown) => string;

/** One INSERT, UPDATE or DELETE (no RETURNING is read), its values bound through `bind`. */
export type SqlChange = (bind: Bind) => string;

/** The text and parameters of `changes` as WITH queries in front of `main` (its params first). */
function compose(changes: readonly SqlChange[], main: string, params: readonly unknown[]) {
  const all = [...params];
  const bind: Bind = (value) => {
    all.push(value);
    return `$${all.length}`;
  };
  const ctes = changes.map((change, i) => `change_${i + 1} AS (${change(bind)})`).join(',\n');
  return { text: `WITH ${ctes}\n${main}`, params: all };
}

const SELECT = /^\s*SELECT\b/i;

/**
 * Applies `changes` and appends `events` (in order, as appendEvents does) in ONE statement of
 * the caller's transaction. With no events the changes still run (one statement); with
 * neither, nothing is sent.
 */
export async function writeWithEvents(
  tx: WriteTx,
  changes: readonly SqlChange[],
  events: readonly AppendInput<EventType>[],
): Promise<LedgerEventView[]> {
  if (changes.length === 0) return appendEvents(tx, events);
  if (events.length === 0) {
    if (changes.length === 1) {
      const { params, text } = single(changes[0]!);
      await tx.exec(text, params);
    } else {
      const { text, params } = compose(changes, 'SELECT 1', []);
      await tx.exec(text, params);
    }
    return [];
  }
  let sent = false;
  const carry = async <R extends object>(text: string, params: readonly unknown[] = []): Promise<R[]> => {
    // appendEvents issues exactly one SELECT; anything else would drop or repeat the changes.
    if (sent || !SELECT.test(text)) throw new Error(`writeWithEvents cannot carry: ${text.slice(0, 60)}`);
    sent = true;
    const composed = compose(changes, text, params);
    return tx.rows<R>(composed.text, composed.params);
  };
  const carrier: WriteTx = {
    ...tx,
    rows: carry,
    one: async <R extends object>(text: string, params?: readonly unknown[]) => {
      const rows = await carry<R>(text, params);
      if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}`);
      return rows[0]!;
    },
    maybe: async <R extends object>(text: string, params?: readonly unknown[]): Promise<R | undefined> => {
      const rows: R[] = await carry<R>(text, params);
      return rows[0];
    },
    exec: async (text, params) => (await carry(text, params)).length,
  };
  const appended = await appendEvents(carrier, events);
  if (!sent) throw new Error('writeWithEvents: the append sent no statement');
  return appended;
}

/** A change run on its own (no WITH around it). */
export function single(change: SqlChange): { text: string; params: unknown[] } {
  const params: unknown[] = [];
  const text = change((value) => {
    params.push(value);
    return `$${params.length}`;
  });
  return { text, params };
}

/** Runs changes without events: one statement. */
export function applyChanges(tx: WriteTx, changes: readonly SqlChange[]): Promise<unknown> {
  return writeWithEvents(tx, changes, []);
}

/** A jsonb parameter: pg would send a JS array as a Postgres array literal, so JSON is sent as text. */
export const jsonb = (value: unknown): string => JSON.stringify(value);

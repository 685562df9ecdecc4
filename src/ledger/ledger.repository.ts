// The ledger's write path and subject reads. Every state change in claimtrail appends
// through appendEvent inside the transaction that makes the change.
import type pg from 'pg';
import type { Prisma } from '../db/prisma.ts';
import { hotStatement, queryConfig, type WriteTx } from '../db/unit-of-work.ts';
import { findUnstorableText } from '../lib/storable-text.ts';
import { bodyFrame, type EventBody } from './canonical.ts';
import type { StoredEvent } from './chain-verify.ts';
import { type EventData, type EventType, type Subject, validateEvent } from './event-types.ts';

/** A Prisma client or transaction, for the reads below. */
export type Tx = Prisma.TransactionClient;

/**
 * A programming error: event data holding a NUL or a lone surrogate. Such text has no
 * RFC 8785 / I-JSON form and PostgreSQL refuses it where it is also stored as jsonb; what
 * comes from outside must be refused at the request or escaped where it is described
 * (src/lib/storable-text.ts). The message names paths only, never the text itself.
 */
export class UnstorableEventError extends Error {
  override name = 'UnstorableEventError';
  constructor(type: string, paths: string[]) {
    super(`event ${type}: unescaped NUL or lone surrogate at ${paths.join(', ')}`);
  }
}

export interface AppendInput<T extends EventType> {
  subject: Subject;
  type: T;
  /** `user:<id>`, `worker:<name>` or `system:<what>`. */
  actor: string;
  data: EventData<T>;
  at?: Date;
}

/** The API shape of a ledger event. */
export interface LedgerEventView extends EventBody {
  hash: string;
  logIndex: number | null;
}

/**
 * Appends one event to its subject's chain inside the caller's transaction `tx`.
 * Refuses data holding text PostgreSQL cannot store (UnstorableEventError). Invariants: seq is
 * contiguous from 1 per subject, prev is the hash of seq-1 (null for 1), hash = SHA-256 of the
 * RFC 8785 body. Appends to one subject are serialized by a transaction-scoped advisory lock
 * (different subjects proceed in parallel), and the unique (subject, seq) index makes a fork
 * impossible even without it. The event is queued for the sequencer in the same transaction,
 * so it is integrated if and only if it commits.
 * `tx` is a unit of work (src/db/unit-of-work.ts), a pg client inside BEGIN … COMMIT, the pg
 * pool itself (the append is then one autocommitted statement, a transaction of its own). Never a
 * Prisma interactive transaction: writes run on the pg path (README, "Where a write goes").
 */
export async function appendEvent<T extends EventType>(
  tx: AppendTarget,
  input: AppendInput<T>,
): Promise<LedgerEventView> {
  const [event] = await appendEvents(tx, [input]);
  return event!;
}

/**
 * Appends several events in one round trip (SQL function ledger_append_many), in the order
 * given: events of one subject get consecutive seqs in that order. Same checks and
 * guarantees as appendEvent.
 */
export async function appendEvents(
  tx: AppendTarget,
  inputs: readonly AppendInput<EventType>[],
): Promise<LedgerEventView[]> {
  if (inputs.length === 0) return [];
  const frames = inputs.map(frameOf);
  const parts = frames.map((f) => ({ frame: f, ...bodyFrame(f) }));
  const rows =
    parts.length === 1
      ? await query(tx, APPEND_SQL, [
          parts[0]!.frame.subject.type,
          parts[0]!.frame.subject.id,
          parts[0]!.frame.type,
          parts[0]!.prefix,
          parts[0]!.suffix,
        ])
      : await query(tx, APPEND_MANY_SQL, [
          parts.map((p) => p.frame.subject.type),
          parts.map((p) => p.frame.subject.id),
          parts.map((p) => p.frame.type),
          parts.map((p) => p.prefix),
          parts.map((p) => p.suffix),
        ]);
  if (rows.length !== parts.length)
    throw new Error(`ledger append returned ${rows.length} of ${parts.length} rows`);
  return parts.map(({ frame }, i) => viewOf(frame, rows[i]!));
}

type Frame = ReturnType<typeof frameOf>;

const viewOf = ({ subject, type, actor, at, data }: Frame, head: AppendedRow): LedgerEventView => ({
  subject,
  seq: head.seq,
  prev: head.prev,
  type,
  actor,
  at,
  data,
  hash: head.hash,
  logIndex: null,
});

/** A parameterized statement: `$1 …` in `text`, their values in order. */
export interface Statement {
  text: string;
  params: readonly unknown[];
}

/**
 * A row write and its event in ONE statement, for a state change whose event needs nothing
 * the database makes (ids from newId(), times from JavaScript):
 *   WITH w AS (<write>) SELECT … FROM w, ledger_append(…, w.subject_id, …)
 * `write` is an INSERT or UPDATE (its own $1 … $n) of at most one row (by its key), returning
 * the event's subject id as `subject_id`; the event is appended per row it returns, so a write
 * that matches no row (a conditional INSERT … SELECT … WHERE) appends nothing and this returns
 * undefined. On the pg
 * pool the statement is a transaction of its own: one round trip instead of BEGIN, write,
 * append, COMMIT, with the same guarantee (both or neither). In a unit of work it is one
 * statement of that transaction. Same checks and chain guarantees as appendEvent.
 */
export async function writeWithEvent<T extends EventType>(
  target: WriteTx | pg.Pool,
  write: Statement,
  input: AppendInput<T>,
): Promise<LedgerEventView | undefined> {
  const frame = frameOf(input);
  const { prefix, suffix } = bodyFrame(frame);
  const n = write.params.length;
  // The subject id argument refers to the written row (a lateral reference), so the append runs
  // once per row, after its write. It is the id the JS-built body names, or NULL when the row
  // says otherwise, which fails the statement (ledger_events.subject_id is NOT NULL): a body
  // and a chain that disagree are never written.
  const id = `$${n + 2}::text`;
  const text = `WITH w AS (${write.text})
    SELECT a.seq, a.prev, a.hash FROM w,
      ledger_append($${n + 1}::text, CASE WHEN w.subject_id::text = ${id} THEN ${id} END,
        $${n + 3}::text, $${n + 4}::text, $${n + 5}::text) a`;
  const rows = await query(target, text, [
    ...write.params,
    frame.subject.type,
    frame.subject.id,
    frame.type,
    prefix,
    suffix,
  ]);
  if (rows.length > 1)
    throw new Error(`writeWithEvent: the write returned ${rows.length} rows, expected 0 or 1`);
  return rows[0] && viewOf(frame, rows[0]);
}

function frameOf(input: AppendInput<EventType>) {
  const data = validateEvent(input.subject, input.type, input.data);
  const unstorable = findUnstorableText(data, 'data');
  if (unstorable.length > 0)
    throw new UnstorableEventError(
      input.type,
      unstorable.map((e) => e.path),
    );
  return {
    subject: { type: input.subject.type, id: input.subject.id },
    type: input.type,
    actor: input.actor,
    at: (input.at ?? new Date()).toISOString(),
    data,
  };
}

/** Where an append can run: see appendEvent. */
export type AppendTarget = WriteTx | pg.ClientBase | pg.Pool;

// The whole append (lock, head, canonical body, SHA-256, event and log_pending rows) is the
// SQL function of migration 20261202000600_ledger_append_fn: one round trip. Several appends:
// ledger_append_many (20261203000100), which calls it for each element in order. Both are
// prepared once per connection (hotStatement).
const APPEND_SQL = hotStatement(
  'SELECT seq, prev, hash FROM ledger_append($1::text, $2::text, $3::text, $4::text, $5::text)',
);
const APPEND_MANY_SQL = hotStatement(
  'SELECT seq, prev, hash FROM ledger_append_many($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])',
);

interface AppendedRow {
  seq: number;
  prev: string | null;
  hash: string;
}

async function query(tx: AppendTarget, text: string, params: unknown[]): Promise<AppendedRow[]> {
  if ('afterCommit' in tx) return tx.rows<AppendedRow>(text, params);
  return (await tx.query<AppendedRow>(queryConfig(text, params))).rows;
}

interface EventRow {
  seq: number;
  type: string;
  hash: string;
  prev: string | null;
  body: string;
  log_index: bigint | null;
  logged_hash: string | null;
}

/** A subject's events in seq order, with their log index and the hash the log recorded;
 * with `window`, at most `limit` of them after seq `after` (a page of a custody timeline). */
export async function readSubjectEvents(
  db: Tx,
  subject: Subject,
  window?: { after: number; limit: number },
): Promise<(StoredEvent & { logIndex: number | null })[]> {
  const rows = await db.$queryRaw<EventRow[]>`
    SELECT e.seq, e.type, encode(e.hash, 'hex') AS hash, encode(e.prev, 'hex') AS prev, e.body,
           l.log_index, encode(l.event_hash, 'hex') AS logged_hash
    FROM ledger_events e LEFT JOIN log_entries l ON l.event_id = e.id
    WHERE e.subject_type = ${subject.type} AND e.subject_id = ${subject.id}
      AND e.seq > ${window?.after ?? 0}
    ORDER BY e.seq LIMIT ${window?.limit ?? null}`;
  return rows.map((r) => ({
    seq: r.seq,
    type: r.type,
    hash: r.hash,
    prev: r.prev,
    body: r.body,
    loggedHash: r.logged_hash,
    logIndex: r.log_index === null ? null : Number(r.log_index),
  }));
}

/** The API view of stored events: the canonical body plus hash and logIndex. */
export const toEventView = (e: StoredEvent & { logIndex: number | null }): LedgerEventView => ({
  ...(JSON.parse(e.body) as EventBody),
  hash: e.hash,
  logIndex: e.logIndex,
});

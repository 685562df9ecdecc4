// What the runtime role (DATABASE_URL: api, worker, sequencer, and the `user add` / `ledger
// verify` commands) may do, table by table: the one place that says it. `claimtrail db migrate`
// applies it after every migration (src/db/grant-runtime.ts), so a table added by a migration
// is covered at once. Verbs come from reading the code (grep UPDATE / DELETE / `.update(` per
// table); a table missing here gets nothing, and a test fails naming it.
//
// Never granted: TRUNCATE, REFERENCES, TRIGGER, and ownership of anything (an owner can
// `ALTER TABLE … DISABLE TRIGGER`, which would switch off the ledger's append-only triggers).
// Sequences: USAGE on those owned by a column of a table the role may INSERT into (nextval for
// ledger_events.id). Functions: EXECUTE on ours is revoked from PUBLIC and the role (trigger
// functions run without an EXECUTE check) and granted only on runtimeFunctionGrants.

export type Verb = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/** The chain of custody and the Merkle log: append-only (triggers reject UPDATE, DELETE and
 * TRUNCATE), and evidence. A runtime role owning one of them can disable those triggers. */
export const appendOnlyTables = [
  'ledger_events',
  'log_entries',
  'log_hashes',
  'log_checkpoints',
  'log_keys',
  'log_timestamps',
  'log_cosignatures',
] as const;

/** Tables whose ownership or UPDATE/DELETE/TRUNCATE right lets a role rewrite custody. */
export const ledgerTables = [...appendOnlyTables, 'log_pending'] as const;

export const runtimeTableGrants: Record<string, readonly Verb[]> = {
  // Events are appended by appendEvent (api, worker) and read by every view and verifier.
  ledger_events: ['SELECT', 'INSERT'],
  // The sequencer's queue: appendEvent inserts the event id, the sequencer deletes it once
  // integrated (the only DELETE the runtime makes on a ledger table).
  log_pending: ['SELECT', 'INSERT', 'DELETE'],
  // The sequencer appends leaves, stored tlog hashes, signed checkpoints and its published
  // verifier key (INSERT … ON CONFLICT DO NOTHING needs INSERT only); the api reads them.
  log_entries: ['SELECT', 'INSERT'],
  log_hashes: ['SELECT', 'INSERT'],
  log_checkpoints: ['SELECT', 'INSERT'],
  log_keys: ['SELECT', 'INSERT'],
  // RFC 3161 timestamps of checkpoints: the sequencer inserts each once verified, the api and
  // export builds read them (src/anchors/timestamp/timestamp-store.ts).
  log_timestamps: ['SELECT', 'INSERT'],
  // Witness cosignatures of our checkpoints: the sequencer's cosigner adds them once verified
  // (ON CONFLICT DO NOTHING), the api serves them, exports carry them (src/anchors/witness).
  log_cosignatures: ['SELECT', 'INSERT'],
  // `claimtrail witness`: a log's first cosigned checkpoint is inserted, later ones advance it
  // by a compare-and-swap UPDATE (witness-store.ts); never deleted.
  witness_logs: ['SELECT', 'INSERT', 'UPDATE'],
  // createUser (POST /v1/users, `claimtrail user add`); never changed or removed.
  users: ['SELECT', 'INSERT'],
  // Created with the user; revocation sets revoked_at (DELETE /v1/users/:id/tokens).
  api_tokens: ['SELECT', 'INSERT', 'UPDATE'],
  // Investigations are only ever added; DELETE /v1/investigations/:id/members/:userId removes a
  // membership (the ledger keeps member_added and member_removed).
  investigations: ['SELECT', 'INSERT'],
  memberships: ['SELECT', 'INSERT', 'DELETE'],
  // PATCH /v1/claims/:id (SELECT … FOR UPDATE, then UPDATE; the change is a ledger event).
  claims: ['SELECT', 'INSERT', 'UPDATE'],
  // Capture status and failure, the source's own recapture interval.
  sources: ['SELECT', 'INSERT', 'UPDATE'],
  // DELETE /v1/citations/:id withdraws a citation (the claim's citation_withdrawn event keeps
  // it in the ledger; the source and its custody stay).
  citations: ['SELECT', 'INSERT', 'DELETE'],
  // The stored response is written when the request ends; a failed or expired key is deleted.
  idempotency_keys: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  // Status, attempts and progress of a capture (locked FOR UPDATE by each step).
  captures: ['SELECT', 'INSERT', 'UPDATE'],
  // Checks are rewritten when a citation's expectations are checked again.
  evidence_items: ['SELECT', 'INSERT', 'UPDATE'],
  // Status, progress and digest of an export build.
  exports: ['SELECT', 'INSERT', 'UPDATE'],
  // PDQ hashes of an item, written once with its description (a function of the bytes:
  // ON CONFLICT DO NOTHING, never changed); read by the similarity search.
  media_hashes: ['SELECT', 'INSERT'],
  // Web app sign-in creates a session; sign-out and expiry delete it (src/web/session.ts).
  web_sessions: ['SELECT', 'INSERT', 'DELETE'],
};

/** Functions of ours the runtime role may call, by name (every overload). Each must be
 * SECURITY INVOKER: it then runs with the caller's table rights and widens nothing. */
export const runtimeFunctionGrants: readonly string[] = [
  // appendEvent's one-statement append (INSERT into ledger_events and log_pending).
  'ledger_append',
  // appendEvents: several ledger_append calls in one statement.
  'ledger_append_many',
];

/** Tables of the schema that are not the application's (no grant, no warning). */
export const tablesWithoutGrants = ['_prisma_migrations'] as const;

-- Ledger: per-subject hash chains, the Merkle log and its signed checkpoints.
-- Every table here but log_pending is append-only (triggers at the end enforce it).

CREATE TABLE "ledger_events" (
    "id" BIGSERIAL NOT NULL,
    "subject_type" VARCHAR(32) NOT NULL,
    "subject_id" VARCHAR(64) NOT NULL,
    "seq" INTEGER NOT NULL,
    "prev" BYTEA,
    "hash" BYTEA NOT NULL,
    "type" VARCHAR(64) NOT NULL,
    "body" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ledger_events_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "log_pending" (
    "event_id" BIGINT NOT NULL,

    CONSTRAINT "log_pending_pkey" PRIMARY KEY ("event_id")
);

CREATE TABLE "log_entries" (
    "log_index" BIGINT NOT NULL,
    "event_id" BIGINT NOT NULL,
    "event_hash" BYTEA NOT NULL,

    CONSTRAINT "log_entries_pkey" PRIMARY KEY ("log_index")
);

CREATE TABLE "log_hashes" (
    "idx" BIGINT NOT NULL,
    "hash" BYTEA NOT NULL,

    CONSTRAINT "log_hashes_pkey" PRIMARY KEY ("idx")
);

CREATE TABLE "log_checkpoints" (
    "size" BIGINT NOT NULL,
    "root_hash" BYTEA NOT NULL,
    "note" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "log_checkpoints_pkey" PRIMARY KEY ("size")
);

CREATE UNIQUE INDEX "ledger_events_hash_key" ON "ledger_events"("hash");

CREATE UNIQUE INDEX "ledger_events_subject_type_subject_id_seq_key" ON "ledger_events"("subject_type", "subject_id", "seq");

CREATE UNIQUE INDEX "log_entries_event_id_key" ON "log_entries"("event_id");

ALTER TABLE "log_entries" ADD CONSTRAINT "log_entries_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "ledger_events"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Immutability: the chain of custody and the log it feeds can only grow.
-- Prisma's JavaScript schema engine splits migration scripts at every semicolon, even inside
-- dollar-quoted bodies, so the PL/pgSQL body is an E'' string with its one semicolon as \073.
CREATE FUNCTION claimtrail_reject_ledger_change() RETURNS trigger LANGUAGE plpgsql AS E'BEGIN RAISE EXCEPTION ''claimtrail: % on % is forbidden: the ledger is append-only (chain of custody)'', TG_OP, TG_TABLE_NAME USING ERRCODE = ''insufficient_privilege'', HINT = ''ledger rows are evidence: append a new event instead of changing an old one''\073 END';

CREATE TRIGGER ledger_events_no_update_delete BEFORE UPDATE OR DELETE ON "ledger_events"
  FOR EACH ROW EXECUTE FUNCTION claimtrail_reject_ledger_change();
CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON "ledger_events"
  FOR EACH STATEMENT EXECUTE FUNCTION claimtrail_reject_ledger_change();
CREATE TRIGGER log_entries_no_update_delete BEFORE UPDATE OR DELETE ON "log_entries"
  FOR EACH ROW EXECUTE FUNCTION claimtrail_reject_ledger_change();
CREATE TRIGGER log_entries_no_truncate BEFORE TRUNCATE ON "log_entries"
  FOR EACH STATEMENT EXECUTE FUNCTION claimtrail_reject_ledger_change();
CREATE TRIGGER log_hashes_no_update_delete BEFORE UPDATE OR DELETE ON "log_hashes"
  FOR EACH ROW EXECUTE FUNCTION claimtrail_reject_ledger_change();
CREATE TRIGGER log_hashes_no_truncate BEFORE TRUNCATE ON "log_hashes"
  FOR EACH STATEMENT EXECUTE FUNCTION claimtrail_reject_ledger_change();
CREATE TRIGGER log_checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON "log_checkpoints"
  FOR EACH ROW EXECUTE FUNCTION claimtrail_reject_ledger_change();
CREATE TRIGGER log_checkpoints_no_truncate BEFORE TRUNCATE ON "log_checkpoints"
  FOR EACH STATEMENT EXECUTE FUNCTION claimtrail_reject_ledger_change();

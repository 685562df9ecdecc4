-- Issue 15, witnesses (C2SP tlog-witness, tlog-cosignature Ed25519 cosignature/v1).
-- log_cosignatures: what outside witnesses signed over this log's checkpoints, verified before
-- it is stored; part of the log's record, so append-only like log_checkpoints.
-- witness_logs: `claimtrail witness`'s state, per log it follows: the latest checkpoint it
-- cosigned. Advanced only by a compare-and-swap UPDATE (src/anchors/witness/witness-store.ts).

-- CreateTable
CREATE TABLE "log_cosignatures" (
    "witness_name" TEXT NOT NULL,
    "key_id" BIGINT NOT NULL,
    "size" BIGINT NOT NULL,
    "root_hash" BYTEA NOT NULL,
    "cosigned_at" BIGINT NOT NULL,
    "signature" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "log_cosignatures_pkey" PRIMARY KEY ("size","witness_name","key_id")
);

-- CreateTable
CREATE TABLE "witness_logs" (
    "origin" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "root_hash" BYTEA NOT NULL,
    "note" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "witness_logs_pkey" PRIMARY KEY ("origin")
);

-- CreateIndex
CREATE INDEX "log_cosignatures_witness_name_key_id_size_idx" ON "log_cosignatures"("witness_name", "key_id", "size");

-- AddForeignKey
ALTER TABLE "log_cosignatures" ADD CONSTRAINT "log_cosignatures_size_fkey" FOREIGN KEY ("size") REFERENCES "log_checkpoints"("size") ON DELETE RESTRICT ON UPDATE RESTRICT;

-- A cosignature is evidence about the log: never changed or withdrawn.
CREATE TRIGGER log_cosignatures_no_update_delete BEFORE UPDATE OR DELETE ON "log_cosignatures"
  FOR EACH ROW EXECUTE FUNCTION claimtrail_reject_ledger_change();
CREATE TRIGGER log_cosignatures_no_truncate BEFORE TRUNCATE ON "log_cosignatures"
  FOR EACH STATEMENT EXECUTE FUNCTION claimtrail_reject_ledger_change();

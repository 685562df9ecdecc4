-- RFC 3161 timestamps of signed checkpoints (issue 15): one row per checkpoint and TSA, kept only
-- after the reply verified (src/anchors/timestamp/tsa-verify.ts). `digest` is the SHA-256 of the
-- exact bytes timestamped (the checkpoint's signed note, src/anchors/timestamp/timestamped-bytes.ts);
-- `chain` is the certificate path, signer first, ending with the configured trust anchor. Append-only
-- like the log it anchors.

-- CreateTable
CREATE TABLE "log_timestamps" (
    "id" BIGSERIAL NOT NULL,
    "checkpoint_size" BIGINT NOT NULL,
    "root_hash" BYTEA NOT NULL,
    "tsa_url" TEXT NOT NULL,
    "gen_time" TIMESTAMPTZ(3) NOT NULL,
    "token" BYTEA NOT NULL,
    "chain" BYTEA[],
    "digest" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "log_timestamps_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "log_timestamps_checkpoint_size_tsa_url_key" ON "log_timestamps"("checkpoint_size", "tsa_url");

-- AddForeignKey
ALTER TABLE "log_timestamps" ADD CONSTRAINT "log_timestamps_checkpoint_size_fkey" FOREIGN KEY ("checkpoint_size") REFERENCES "log_checkpoints"("size") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Append-only, as the ledger (the function is the ledger migration's).
CREATE TRIGGER log_timestamps_no_update_delete BEFORE UPDATE OR DELETE ON "log_timestamps"
  FOR EACH ROW EXECUTE FUNCTION claimtrail_reject_ledger_change();
CREATE TRIGGER log_timestamps_no_truncate BEFORE TRUNCATE ON "log_timestamps"
  FOR EACH STATEMENT EXECUTE FUNCTION claimtrail_reject_ledger_change();

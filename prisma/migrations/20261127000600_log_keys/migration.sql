-- The verifier keys the sequencer signs checkpoints with, published in the database so that
-- API and worker processes on hosts without LOG_SIGNING_KEY_FILE serve and check the right key.
-- CreateTable
CREATE TABLE "log_keys" (
    "verifier_key" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "log_keys_pkey" PRIMARY KEY ("verifier_key")
);

-- A published key is part of the log's record: never changed or withdrawn.
CREATE TRIGGER log_keys_no_update_delete BEFORE UPDATE OR DELETE ON "log_keys"
  FOR EACH ROW EXECUTE FUNCTION claimtrail_reject_ledger_change();
CREATE TRIGGER log_keys_no_truncate BEFORE TRUNCATE ON "log_keys"
  FOR EACH STATEMENT EXECUTE FUNCTION claimtrail_reject_ledger_change();

-- Lighter appends and integration (issue 12, ledger benchmark): two pieces of per-event work
-- that no query and no guarantee needs.
--
-- 1. The unique index on ledger_events.hash is read by no query (events are found by subject
--    and seq, by id, or by log index through log_entries), and as a SHA-256 it sent every append
--    to a random leaf page: one more page dirtied, and after each checkpoint a full-page image
--    in the WAL. Hashes stay unique without it: a hash covers the canonical body, which names
--    the subject and seq, and (subject_type, subject_id, seq) is unique.
-- 2. The foreign key log_entries.event_id → ledger_events.id made the sequencer lock each event
--    row it integrates (the FOR KEY SHARE check of every inserted leaf): a WAL record per event
--    and a ledger page dirtied again, ~3× the time of inserting the leaves themselves. The
--    sequencer takes its leaves from a join with ledger_events, and ledger_events rows are never
--    deleted (append-only triggers), so no leaf can name a missing event; `claimtrail ledger
--    verify` checks every leaf against its event.

-- DropForeignKey
ALTER TABLE "log_entries" DROP CONSTRAINT "log_entries_event_id_fkey";

-- DropIndex
DROP INDEX "ledger_events_hash_key";

-- The investigation of each perceptual hash's item, in the hash's row (issue 17 follow-up).
-- Every similarity search the API and the capture make is limited to the caller's
-- investigations; with the investigation only on `sources`, each hit of the GIN scan had to be
-- joined to evidence_items and sources (`npm run bench pdq`: p99 65.7 ms with a one-investigation
-- filter vs 48.0 ms without, over 1,000,000 hashes). Now the filter is a test of the row the
-- index found. The column is copied from the item's source in the statement that stores the
-- hashes (mediaHashesChange, src/media/pdq-store.ts).
--
-- The copy stays right because sources never move between investigations and items never
-- move between sources: no statement of the application changes sources.investigation_id or
-- evidence_items.source_id, and the triggers below make the database refuse it.

ALTER TABLE "media_hashes" ADD COLUMN "investigation_id" UUID;

UPDATE "media_hashes" h SET "investigation_id" = s."investigation_id"
FROM "evidence_items" e JOIN "sources" s ON s."id" = e."source_id"
WHERE e."id" = h."evidence_id";

ALTER TABLE "media_hashes" ALTER COLUMN "investigation_id" SET NOT NULL;

CREATE FUNCTION claimtrail_reject_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows do not move: % is fixed once written', TG_TABLE_NAME, TG_ARGV[0]
    USING ERRCODE = 'integrity_constraint_violation';
END;
$$;

CREATE TRIGGER sources_investigation_fixed BEFORE UPDATE OF "investigation_id" ON "sources"
  FOR EACH ROW WHEN (OLD."investigation_id" IS DISTINCT FROM NEW."investigation_id")
  EXECUTE FUNCTION claimtrail_reject_move('investigation_id');
CREATE TRIGGER evidence_items_source_fixed BEFORE UPDATE OF "source_id" ON "evidence_items"
  FOR EACH ROW WHEN (OLD."source_id" IS DISTINCT FROM NEW."source_id")
  EXECUTE FUNCTION claimtrail_reject_move('source_id');

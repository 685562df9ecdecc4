-- Several events in one round trip (src/ledger/ledger.repository.ts appendEvents): element i
-- of each array is one ledger_append call, made in array order, so events of one subject get
-- consecutive seqs in the order given and every append keeps ledger_append's lock, head read,
-- canonical body and hash. A capture step (fetched, stored, metadata_extracted) or a claim's
-- citation (citation_added, source_cited) then costs one statement instead of one per event.
-- SECURITY INVOKER like ledger_append; \073 for semicolons as in that migration.
CREATE FUNCTION ledger_append_many(
  p_subject_types text[], p_subject_ids text[], p_types text[], p_prefixes text[], p_suffixes text[]
) RETURNS TABLE (seq integer, prev text, hash text)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS E'
DECLARE
  i integer\073
BEGIN
  IF cardinality(p_subject_types) <> cardinality(p_subject_ids)
     OR cardinality(p_subject_types) <> cardinality(p_types)
     OR cardinality(p_subject_types) <> cardinality(p_prefixes)
     OR cardinality(p_subject_types) <> cardinality(p_suffixes) THEN
    RAISE EXCEPTION ''ledger_append_many: arrays of different lengths''\073
  END IF\073
  FOR i IN 1 .. coalesce(cardinality(p_subject_types), 0) LOOP
    RETURN QUERY SELECT a.seq, a.prev, a.hash
      FROM ledger_append(p_subject_types[i], p_subject_ids[i], p_types[i], p_prefixes[i], p_suffixes[i]) a\073
  END LOOP\073
END';

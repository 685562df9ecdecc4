-- One-statement ledger append (src/ledger/ledger.repository.ts appendEvent). Under the subject's
-- advisory lock it reads the chain head, writes seq and prev into the RFC 8785 body that
-- JavaScript canonicalized around them (src/ledger/canonical.ts bodyFrame), hashes the body's
-- UTF-8 bytes with SHA-256, inserts the event and its log_pending row, and returns seq, prev and
-- hash (lowercase hex). One round trip instead of three, in the caller's transaction.
-- SECURITY INVOKER: it runs with the caller's rights (INSERT on ledger_events and log_pending),
-- so EXECUTE on it (src/db/runtime-grants.ts) widens nothing. The append-only triggers apply.
-- The body is an E'' string with \073 for each semicolon: Prisma's JS schema engine splits
-- migration scripts at every semicolon, even inside dollar-quoted bodies (see the ledger migration).
-- Each statement of a VOLATILE function takes a fresh snapshot, so under READ COMMITTED the
-- head is read after the lock is held and sees the previous holder's committed event.
-- Names: the OUT parameters seq, prev and hash would shadow the columns, hence the e. alias.
CREATE FUNCTION ledger_append(
  p_subject_type text, p_subject_id text, p_type text, p_prefix text, p_suffix text,
  OUT seq integer, OUT prev text, OUT hash text
) LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS E'
DECLARE
  v_seq integer\073
  v_prev bytea\073
  v_hash bytea\073
  v_body text\073
  v_id bigint\073
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(p_subject_type || '':'' || p_subject_id, 0))\073
  SELECT e.seq, e.hash INTO v_seq, v_prev FROM ledger_events e
    WHERE e.subject_type = p_subject_type AND e.subject_id = p_subject_id
    ORDER BY e.seq DESC LIMIT 1\073
  v_seq := coalesce(v_seq, 0) + 1\073
  v_body := p_prefix || ''"prev":'' || coalesce(''"'' || encode(v_prev, ''hex'') || ''"'', ''null'')
    || '',"seq":'' || v_seq::text || p_suffix\073
  v_hash := sha256(convert_to(v_body, ''UTF8''))\073
  INSERT INTO ledger_events (subject_type, subject_id, seq, prev, hash, type, body)
    VALUES (p_subject_type, p_subject_id, v_seq, v_prev, v_hash, p_type, v_body)
    RETURNING id INTO v_id\073
  INSERT INTO log_pending (event_id) VALUES (v_id)\073
  seq := v_seq\073
  prev := encode(v_prev, ''hex'')\073
  hash := encode(v_hash, ''hex'')\073
END';

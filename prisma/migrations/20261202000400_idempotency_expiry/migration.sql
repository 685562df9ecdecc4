-- Idempotency records expire (IDEMPOTENCY_TTL_SECONDS after created_at, deleted in bounded
-- batches, hence the index), and an in-flight key holds a lease that its request renews
-- while it runs: a retry takes over a key whose lease has passed (a crashed process).
ALTER TABLE "idempotency_keys" ADD COLUMN "locked_by" UUID,
ADD COLUMN "locked_until" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys"("created_at");

-- Rows without a lease (left in flight by an older version) count as leased for a minute
-- from their creation (src/http/idempotency-store.ts), so no lease is backfilled here.

-- Older versions stored POST /v1/users responses with the live token. Withhold it as the
-- service now does (src/http/idempotency.ts): "token":null,"tokenWithheld":true. A JSON
-- string's quotes are escaped inside other strings, so only a real "token" member matches.
UPDATE "idempotency_keys"
SET "response_body" = regexp_replace("response_body", '"token":"ct_[A-Za-z0-9_-]*"', '"token":null,"tokenWithheld":true', 'g')
WHERE "response_body" LIKE '%"token":"ct\_%';

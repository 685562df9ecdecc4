-- Web app sessions (issue 13): a browser signed in with an API token. Only SHA-256 of the
-- session id is stored; a session ends at expires_at, at sign-out (row deleted), or when its
-- token is revoked (the lookup joins api_tokens and requires revoked_at IS NULL).

-- CreateTable
CREATE TABLE "web_sessions" (
    "id_hash" BYTEA NOT NULL,
    "token_id" UUID NOT NULL,
    "csrf_token" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "web_sessions_pkey" PRIMARY KEY ("id_hash")
);

-- CreateIndex
CREATE INDEX "web_sessions_token_id_idx" ON "web_sessions"("token_id");

-- CreateIndex
CREATE INDEX "web_sessions_expires_at_idx" ON "web_sessions"("expires_at");

-- AddForeignKey
ALTER TABLE "web_sessions" ADD CONSTRAINT "web_sessions_token_id_fkey" FOREIGN KEY ("token_id") REFERENCES "api_tokens"("id") ON DELETE CASCADE ON UPDATE CASCADE;

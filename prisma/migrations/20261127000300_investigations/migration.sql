-- Investigations (the tenancy boundary), membership, claims, sources and citations.


CREATE TYPE "ClaimStatus" AS ENUM ('unverified', 'under_review', 'corroborated', 'disputed', 'false', 'misleading');

CREATE TYPE "SourceStatus" AS ENUM ('pending', 'capturing', 'captured', 'failed');

CREATE TYPE "CitationRelation" AS ENUM ('origin', 'supporting', 'refuting', 'context');

CREATE TABLE "investigations" (
    "id" UUID NOT NULL,
    "title" VARCHAR(300) NOT NULL,
    "description" VARCHAR(5000),
    "created_by" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "investigations_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "memberships" (
    "investigation_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "added_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "memberships_pkey" PRIMARY KEY ("investigation_id","user_id")
);

CREATE TABLE "claims" (
    "id" UUID NOT NULL,
    "investigation_id" UUID NOT NULL,
    "statement" VARCHAR(5000) NOT NULL,
    "claimant_name" VARCHAR(300) NOT NULL,
    "claimant_role" VARCHAR(300),
    "claimed_at" TIMESTAMPTZ(3),
    "language" VARCHAR(35),
    "tags" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "status" "ClaimStatus" NOT NULL DEFAULT 'unverified',
    "created_by" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "claims_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "sources" (
    "id" UUID NOT NULL,
    "investigation_id" UUID NOT NULL,
    "url" VARCHAR(2048) NOT NULL,
    "normalized_url" VARCHAR(2048) NOT NULL,
    "platform" JSONB,
    "status" "SourceStatus" NOT NULL DEFAULT 'pending',
    "failure" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sources_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "citations" (
    "id" UUID NOT NULL,
    "claim_id" UUID NOT NULL,
    "source_id" UUID NOT NULL,
    "relation" "CitationRelation" NOT NULL,
    "expected" JSONB NOT NULL DEFAULT '{}',
    "note" VARCHAR(2000),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "citations_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "memberships_user_id_idx" ON "memberships"("user_id");

CREATE INDEX "claims_investigation_id_id_idx" ON "claims"("investigation_id", "id");

CREATE UNIQUE INDEX "sources_investigation_id_normalized_url_key" ON "sources"("investigation_id", "normalized_url");

CREATE INDEX "citations_source_id_idx" ON "citations"("source_id");

CREATE UNIQUE INDEX "citations_claim_id_source_id_relation_key" ON "citations"("claim_id", "source_id", "relation");

ALTER TABLE "memberships" ADD CONSTRAINT "memberships_investigation_id_fkey" FOREIGN KEY ("investigation_id") REFERENCES "investigations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "claims" ADD CONSTRAINT "claims_investigation_id_fkey" FOREIGN KEY ("investigation_id") REFERENCES "investigations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "sources" ADD CONSTRAINT "sources_investigation_id_fkey" FOREIGN KEY ("investigation_id") REFERENCES "investigations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "citations" ADD CONSTRAINT "citations_claim_id_fkey" FOREIGN KEY ("claim_id") REFERENCES "claims"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "citations" ADD CONSTRAINT "citations_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "sources"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Captures, evidence items and exports (capture workers and audit exports).

CREATE TYPE "CaptureStatus" AS ENUM ('queued', 'running', 'completed', 'failed');

-- CreateEnum
CREATE TYPE "EvidenceKind" AS ENUM ('page', 'video', 'image', 'audio', 'document', 'post_metadata', 'upload');

-- CreateEnum
CREATE TYPE "ExportStatus" AS ENUM ('queued', 'running', 'completed', 'failed');

-- CreateEnum
CREATE TYPE "ExportFormat" AS ENUM ('bagit', 'json', 'csv');

-- AlterTable
ALTER TABLE "sources" ADD COLUMN "recapture_every_seconds" INTEGER;

-- CreateTable
CREATE TABLE "captures" (
    "id" UUID NOT NULL,
    "source_id" UUID NOT NULL,
    "reason" VARCHAR(32) NOT NULL,
    "requested_by" UUID,
    "status" "CaptureStatus" NOT NULL DEFAULT 'queued',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "worker" VARCHAR(200),
    "progress" JSONB NOT NULL DEFAULT '{}',
    "failure" JSONB,
    "requested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "captures_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "evidence_items" (
    "id" UUID NOT NULL,
    "source_id" UUID NOT NULL,
    "capture_id" UUID,
    "kind" "EvidenceKind" NOT NULL,
    "media_type" VARCHAR(255) NOT NULL,
    "declared_type" VARCHAR(255),
    "size" BIGINT NOT NULL,
    "sha256" CHAR(64) NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "checks" JSONB NOT NULL DEFAULT '[]',
    "origin_url" VARCHAR(8192),
    "uploaded_by" UUID,
    "captured_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "evidence_items_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "exports" (
    "id" UUID NOT NULL,
    "requested_by" UUID NOT NULL,
    "investigation_id" UUID NOT NULL,
    "claim_id" UUID,
    "format" "ExportFormat" NOT NULL,
    "include_content" BOOLEAN NOT NULL DEFAULT true,
    "status" "ExportStatus" NOT NULL DEFAULT 'queued',
    "progress" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "sha256" CHAR(64),
    "size" BIGINT,
    "error" VARCHAR(2000),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "exports_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "captures_source_id_requested_at_idx" ON "captures"("source_id", "requested_at");

-- CreateIndex
CREATE INDEX "evidence_items_sha256_idx" ON "evidence_items"("sha256");

-- CreateIndex
CREATE UNIQUE INDEX "evidence_items_source_id_sha256_key" ON "evidence_items"("source_id", "sha256");

-- CreateIndex
CREATE INDEX "exports_requested_by_created_at_idx" ON "exports"("requested_by", "created_at");

-- AddForeignKey
ALTER TABLE "captures" ADD CONSTRAINT "captures_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "sources"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "evidence_items" ADD CONSTRAINT "evidence_items_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "sources"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "evidence_items" ADD CONSTRAINT "evidence_items_capture_id_fkey" FOREIGN KEY ("capture_id") REFERENCES "captures"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "exports" ADD CONSTRAINT "exports_investigation_id_fkey" FOREIGN KEY ("investigation_id") REFERENCES "investigations"("id") ON DELETE CASCADE ON UPDATE CASCADE;


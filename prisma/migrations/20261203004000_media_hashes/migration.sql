-- Perceptual hashes of evidence (issue 17): PDQ of an image (frame_second 0) or of one frame a
-- second of a video (vPDQ), with the hash's quality (0-100). `segments` holds the sixteen
-- multi-index tokens of the hash (segment << 16 | 16-bit value, src/media/pdq-multi-index.ts),
-- written by the application with the hash: the GIN index over them finds every hash within a
-- Hamming distance with a few hundred exact lookups, and bit_count(hash # query) checks each
-- candidate (measured against the alternatives by `npm run bench pdq`).

-- CreateTable
CREATE TABLE "media_hashes" (
    "evidence_id" UUID NOT NULL,
    "frame_second" INTEGER NOT NULL,
    "hash" BIT(256) NOT NULL,
    "quality" SMALLINT NOT NULL,
    "segments" INTEGER[],

    CONSTRAINT "media_hashes_pkey" PRIMARY KEY ("evidence_id","frame_second")
);

-- CreateIndex
CREATE INDEX "media_hashes_segments_idx" ON "media_hashes" USING GIN ("segments");

-- AddForeignKey
ALTER TABLE "media_hashes" ADD CONSTRAINT "media_hashes_evidence_id_fkey" FOREIGN KEY ("evidence_id") REFERENCES "evidence_items"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The claimant's stated time zone (issue 17, consistency checks): a claim dated "2024-12-17"
-- by someone in Kyiv means that day in Europe/Kyiv. An IANA zone name, validated at the API
-- edge; null: none stated (dates are then checked in UTC).

-- AlterTable
ALTER TABLE "claims" ADD COLUMN "claimant_time_zone" VARCHAR(64);

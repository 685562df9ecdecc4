-- A claim's date as given (issue 13): `claimedAt` may be a calendar date ("2024-12-17") or a
-- date-time. A date is stored as that day's UTC midnight with precision 'date', so the view
-- shows the date it was given; rows from before are date-times.

-- CreateEnum
CREATE TYPE "ClaimedAtPrecision" AS ENUM ('date', 'datetime');

-- AlterTable
ALTER TABLE "claims" ADD COLUMN "claimed_at_precision" "ClaimedAtPrecision" NOT NULL DEFAULT 'datetime';

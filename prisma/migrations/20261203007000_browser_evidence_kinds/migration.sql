-- Browser captures (issue 14): a page's full-page screenshot (PNG), its rendered DOM and its
-- WACZ web archive are evidence items of their own kinds; platform_metadata is a platform
-- tool's description of a video (yt-dlp's info JSON). Appended, so existing values keep
-- their order.
ALTER TYPE "EvidenceKind" ADD VALUE IF NOT EXISTS 'screenshot';
ALTER TYPE "EvidenceKind" ADD VALUE IF NOT EXISTS 'dom';
ALTER TYPE "EvidenceKind" ADD VALUE IF NOT EXISTS 'web_archive';
ALTER TYPE "EvidenceKind" ADD VALUE IF NOT EXISTS 'platform_metadata';

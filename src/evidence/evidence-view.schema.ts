// The response shape of evidence items and checks (API.md "Shapes"): documents the routes that
// return evidenceView() and is checked against real responses (test/http/openapi-responses.test.ts).
import { z } from 'zod';
import '../http/openapi.ts';

export const sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/);
/** RFC 3339 UTC as Date.toISOString() writes it. */
export const timestampSchema = z.iso.datetime();

export const checkSchema = z
  .object({
    name: z
      .string()
      .describe(
        'declared by a citation: durationSeconds, mediaType, sha256, capturedBefore (EXIF time), location (EXIF GPS ' +
          "within {lat, lon, radiusMeters}); found by the capture: postedAt / publishedAt (the claim's date against " +
          "the X post's created_at / the page's published time; expected {claimId, claimedAt, timeZone, toleranceHours?}), " +
          'sameAs (expected {evidenceId}: the same bytes in another source of the investigation), similarTo ' +
          '(expected {evidenceId, maxDistance}; observed {distance, matchedSeconds?, hashedSeconds?, share?, offsetSeconds?}) ' +
          'and c2pa (the item\'s C2PA manifest: expected "valid or absent", observed {state, reasons})',
      ),
    expected: z.unknown().describe('the value the citation or the claim declared, or the item matched'),
    observed: z.unknown().describe('what the capture observed (null: could not be observed)'),
    passed: z.boolean(),
  })
  .openapi('Check');

export const evidenceKinds = [
  'page',
  'video',
  'image',
  'audio',
  'document',
  'post_metadata',
  'upload',
  'screenshot',
  'dom',
  'web_archive',
  'platform_metadata',
] as const;

export const evidenceItemSchema = z
  .strictObject({
    id: z.string(),
    sourceId: z.string(),
    captureId: z.string().nullable().describe('null for a journalist upload'),
    kind: z.enum(evidenceKinds),
    mediaType: z.string().describe('sniffed from the bytes'),
    declaredType: z.string().nullable().describe('what the origin or uploader declared'),
    size: z.number().int().min(0),
    sha256: sha256HexSchema,
    metadata: z
      .record(z.string(), z.unknown())
      .describe(
        'extracted facts: durationSeconds, container, streams, EXIF, page title, c2pa (the C2PA manifest summary), …',
      ),
    checks: z.array(checkSchema),
    capturedAt: timestampSchema,
    originUrl: z.string().nullable(),
  })
  .openapi('EvidenceItem');
export type EvidenceItem = z.infer<typeof evidenceItemSchema>;

// GET /v1/evidence/:id/similar (issue 17, deliverable 2): the same and similar media the caller
// may see. Checked against real responses like the other view schemas.
import { z } from 'zod';
import '../http/openapi.ts';
import { evidenceKinds, sha256HexSchema } from './evidence-view.schema.ts';

export const similarQuerySchema = z.strictObject({
  distance: z.coerce
    .number()
    .int()
    .min(0)
    .max(63)
    .optional()
    .describe('largest PDQ Hamming distance (default 31)'),
  minQuality: z.coerce
    .number()
    .int()
    .min(0)
    .max(100)
    .optional()
    .describe('ignore hashes below this quality (default 50)'),
});

export const similarMatchSchema = z
  .strictObject({
    evidenceId: z.string(),
    sourceId: z.string(),
    investigationId: z.string(),
    kind: z.enum(evidenceKinds),
    mediaType: z.string(),
    sha256: sha256HexSchema,
    relation: z
      .enum(['sameAs', 'similarTo'])
      .describe('sameAs: the same bytes (sha256); similarTo: PDQ within distance'),
    distance: z.number().int().min(0).describe('smallest PDQ distance between the two (0 for sameAs)'),
    matchedSeconds: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('video: seconds of this item with a match in the other'),
    share: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('video: matchedSeconds / seconds of this item hashed'),
    offsetSeconds: z
      .number()
      .int()
      .optional()
      .describe('video: the other’s second minus this one’s, most common among matched seconds'),
  })
  .openapi('SimilarMedia');

export const similarResponseSchema = z
  .strictObject({
    evidenceId: z.string(),
    distance: z.number().int(),
    minQuality: z.number().int(),
    /** Seconds of this item with a hash (1 for an image, 0 when it has none). */
    hashedSeconds: z.number().int().min(0),
    matches: z.array(similarMatchSchema),
  })
  .openapi('SimilarMediaList');

export type SimilarMatch = z.infer<typeof similarMatchSchema>;
export type SimilarResponse = z.infer<typeof similarResponseSchema>;

// Request schemas for investigations, claims and citations: they validate requests and
// generate the OpenAPI document, so every limit stated here is the documented one.
import { z } from 'zod';
import { isTimeZone } from '../capture/consistency-checks.ts';
import '../http/openapi.ts';

/** C0 controls other than tab, LF and CR, and DEL: never meaningful in a statement or a name. */
const hasControl = (s: string) => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) return true;
  }
  return false;
};

/** Trimmed, non-empty printable text of at most `max` characters. */
const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => !hasControl(s), 'must not contain control characters');

export const idParam = z.strictObject({ id: z.string().max(64) });

export const investigationInput = z
  .strictObject({ title: text(300), description: text(5000).optional() })
  .openapi('InvestigationInput');

export const memberInput = z.strictObject({ userId: z.uuid() }).openapi('MemberInput');

export const claimInput = z
  .strictObject({
    statement: text(5000),
    claimant: z.strictObject({
      name: text(300),
      role: text(300).optional(),
      timeZone: z
        .string()
        .max(64)
        .refine(isTimeZone, 'must be an IANA time zone such as "Europe/Kyiv"')
        .optional()
        .describe("the claimant's IANA time zone: claimedAt's day is checked there (else in UTC)"),
    }),
    claimedAt: z
      .union([z.iso.date(), z.iso.datetime({ offset: true })])
      .optional()
      .describe('a calendar date (2024-12-17) or a date-time with offset; kept as given'),
    language: z
      .string()
      .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'a BCP 47 language tag such as "uk" or "en-GB"')
      .max(35)
      .optional(),
    tags: z.array(text(64)).max(32).optional(),
  })
  .openapi('ClaimInput');
export type ClaimInput = z.infer<typeof claimInput>;

export const expectedInput = z
  .strictObject({
    durationSeconds: z.number().positive().max(1_000_000).optional(),
    mediaType: z.enum(['video', 'image', 'audio', 'page']).optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/)
      .transform((s) => s.toLowerCase())
      .optional(),
    capturedBefore: z
      .union([z.iso.date(), z.iso.datetime({ offset: true })])
      .optional()
      .describe(
        'the picture was taken before this (a date: that day 00:00 UTC); checked against EXIF DateTimeOriginal',
      ),
    location: z
      .strictObject({
        lat: z.number().min(-90).max(90),
        lon: z.number().min(-180).max(180),
        radiusMeters: z.number().positive().max(20_100_000),
      })
      .optional()
      .describe('where the picture was taken: EXIF GPS within radiusMeters of lat, lon'),
    dateToleranceHours: z
      .number()
      .min(0)
      .max(24 * 366)
      .optional()
      .describe(
        "how far a post's or page's own date may be from the claim's date (default: the same day in the claimant's time zone)",
      ),
  })
  .openapi('Expected');

export const citationInput = z
  .strictObject({
    url: z.string().max(2048),
    relation: z.enum(['origin', 'supporting', 'refuting', 'context']),
    expected: expectedInput.optional(),
    note: text(2000).optional(),
  })
  .openapi('CitationInput');
export type CitationInput = z.infer<typeof citationInput>;

export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.uuid().optional().describe('nextCursor of the previous page'),
});

export const claimStatuses = [
  'unverified',
  'under_review',
  'corroborated',
  'disputed',
  'false',
  'misleading',
] as const;

export const claimPatch = claimInput
  .partial()
  .extend({ status: z.enum(claimStatuses).optional() })
  .refine((v) => Object.keys(v).length > 0, 'name at least one field to change')
  .openapi('ClaimPatch');
export type ClaimPatch = z.infer<typeof claimPatch>;

export const claimListQuery = listQuery.extend({
  status: z.enum(claimStatuses).optional(),
  tag: z.string().trim().min(1).max(64).optional(),
  q: z.string().trim().min(1).max(500).optional(),
});
export type ClaimListQuery = z.infer<typeof claimListQuery>;

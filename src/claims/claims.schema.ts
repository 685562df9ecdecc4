// Request schemas for investigations, claims and citations: they validate requests and
// generate the OpenAPI document, so every limit stated here is the documented one.
import { z } from 'zod';
import '../http/openapi.ts';

/** Printable text: no NUL or other C0 controls except tab and newlines. */
const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    .refine(
      (s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s),
      'must not contain control characters',
    );

export const idParam = z.strictObject({ id: z.string().max(64) });

export const investigationInput = z
  .strictObject({ title: text(300), description: text(5000).optional() })
  .openapi('InvestigationInput');

export const memberInput = z.strictObject({ userId: z.uuid() }).openapi('MemberInput');

export const claimInput = z
  .strictObject({
    statement: text(5000),
    claimant: z.strictObject({ name: text(300), role: text(300).optional() }),
    claimedAt: z.iso.datetime({ offset: true }).optional(),
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
  cursor: z.string().max(200).optional(),
});

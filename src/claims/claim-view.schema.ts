// Response shapes of claims and citations (claimView(), getClaim(), citeSource()); checked
// against real responses in test/http, so the OpenAPI document cannot drift from the routes.
import { z } from 'zod';
import '../http/openapi.ts';
import { timestampSchema } from '../evidence/evidence-view.schema.ts';
import { sourceSchema } from '../sources/source-view.schema.ts';
import { citationInput, claimStatuses } from './claims.schema.ts';

export const claimSchema = z
  .strictObject({
    id: z.string(),
    investigationId: z.string(),
    statement: z.string(),
    claimant: z.strictObject({
      name: z.string(),
      role: z.string().nullable(),
      timeZone: z.string().optional().describe("the claimant's IANA time zone, when stated"),
    }),
    claimedAt: z
      .union([z.iso.date(), timestampSchema])
      .nullable()
      .describe('as it was given: a date (2024-12-17) or a UTC date-time'),
    language: z.string().nullable(),
    tags: z.array(z.string()),
    status: z.enum(claimStatuses),
    createdBy: z.string(),
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
  })
  .openapi('Claim');
export type ClaimView = z.infer<typeof claimSchema>;

export const claimPageSchema = z
  .strictObject({ items: z.array(claimSchema), nextCursor: z.string().nullable() })
  .openapi('ClaimPage');

const citationFields = {
  id: z.string(),
  relation: citationInput.shape.relation,
  expected: z.record(z.string(), z.unknown()).describe('what the citation declares; checked on capture'),
  note: z.string().nullable(),
  createdAt: timestampSchema,
};

export const claimWithCitationsSchema = claimSchema
  .extend({ citations: z.array(z.strictObject({ ...citationFields, source: sourceSchema })) })
  .openapi('ClaimWithCitations');

export const citationCreatedSchema = z
  .strictObject({
    citation: z.strictObject({ ...citationFields, claimId: z.string() }),
    source: sourceSchema,
  })
  .openapi('CitationCreated');

export const citationWithdrawnSchema = z
  .strictObject({
    citationId: z.string(),
    claimId: z.string(),
    sourceId: z.string().describe('the source stays, with its evidence and custody'),
    relation: citationInput.shape.relation,
    withdrawnAt: timestampSchema.describe("the citation_withdrawn event's time"),
  })
  .openapi('CitationWithdrawn');
export type CitationWithdrawn = z.infer<typeof citationWithdrawnSchema>;

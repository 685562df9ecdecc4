// The response shape of an export (exportView()); checked against real responses in test/http.
import { z } from 'zod';
import '../http/openapi.ts';
import { sha256HexSchema, timestampSchema } from '../evidence/evidence-view.schema.ts';

export const exportSchema = z
  .strictObject({
    id: z.string(),
    status: z.enum(['queued', 'running', 'completed', 'failed']),
    progress: z.number().min(0).max(1),
    format: z.enum(['bagit', 'json', 'csv']),
    scope: z.union([
      z.strictObject({ claimId: z.string() }),
      z.strictObject({ investigationId: z.string() }),
    ]),
    includeContent: z.boolean(),
    requestedBy: z.string(),
    createdAt: timestampSchema,
    completedAt: timestampSchema.nullable(),
    sha256: sha256HexSchema.optional().describe('once completed'),
    size: z.number().int().min(0).optional().describe('once completed'),
    error: z.string().optional().describe('once failed'),
  })
  .openapi('Export');
export type ExportView = z.infer<typeof exportSchema>;

export const exportPageSchema = z
  .strictObject({ items: z.array(exportSchema), nextCursor: z.string().nullable() })
  .openapi('ExportPage');

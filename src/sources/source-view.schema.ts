// The response shape of a source (sourceViews()); checked against real responses in test/http.
import { z } from 'zod';
import '../http/openapi.ts';
import {
  checkSchema,
  evidenceItemSchema,
  sha256HexSchema,
  timestampSchema,
} from '../evidence/evidence-view.schema.ts';

export const sourceStatuses = ['pending', 'capturing', 'captured', 'failed'] as const;

export const sourceSchema = z
  .strictObject({
    id: z.string(),
    investigationId: z.string(),
    url: z.string(),
    normalizedUrl: z.string(),
    platform: z
      .object({ name: z.string(), handle: z.string().optional(), postId: z.string().optional() })
      .nullable(),
    status: z.enum(sourceStatuses),
    failure: z.object({ code: z.string(), detail: z.string() }).nullable(),
    evidence: z.array(evidenceItemSchema),
    checks: z.array(checkSchema).describe('those of the most recently checked item'),
    recaptureEverySeconds: z.number().int().nullable(),
    custody: z.strictObject({ length: z.number().int().min(0), headHash: sha256HexSchema.nullable() }),
    createdAt: timestampSchema,
  })
  .openapi('Source');

export const captureRequestedSchema = z.strictObject({ captureId: z.string() }).openapi('CaptureRequested');

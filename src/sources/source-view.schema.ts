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

export const captureStatuses = ['queued', 'running', 'completed', 'failed'] as const;

export const captureSchema = z
  .strictObject({
    id: z.string(),
    status: z.enum(captureStatuses),
    reason: z.string().describe('cited, manual or scheduled'),
    attempts: z.number().int().min(0).describe('attempts started (retries after transient failures)'),
    requestedAt: timestampSchema,
    startedAt: timestampSchema.nullable().describe("the first attempt's start"),
    finishedAt: timestampSchema.nullable(),
    failure: z
      .object({ code: z.string(), detail: z.string() })
      .nullable()
      .describe('why a failed capture failed'),
  })
  .openapi('Capture');
export type CaptureView = z.infer<typeof captureSchema>;

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
    captures: z.array(captureSchema).max(10).describe('capture progress: the latest captures, newest first'),
    createdAt: timestampSchema,
  })
  .openapi('Source');

export const sourcePageSchema = z
  .strictObject({ items: z.array(sourceSchema), nextCursor: z.string().nullable() })
  .openapi('SourcePage');

export const evidenceListSchema = z
  .strictObject({ items: z.array(evidenceItemSchema) })
  .openapi('EvidenceList');

export const captureRequestedSchema = z.strictObject({ captureId: z.string() }).openapi('CaptureRequested');

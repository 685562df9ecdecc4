// The response shapes of ledger events and chain verdicts as the custody routes return them
// (LedgerEventView, ChainVerdict); checked against real responses in test/http.
import { z } from 'zod';
import '../http/openapi.ts';
import { sha256HexSchema, timestampSchema } from '../evidence/evidence-view.schema.ts';
import { subjectSchema } from './event-types.ts';

export const ledgerEventSchema = z
  .strictObject({
    subject: subjectSchema,
    seq: z.number().int().min(1),
    prev: sha256HexSchema.nullable().describe("hash of the subject's previous event; null for seq 1"),
    type: z.string(),
    actor: z.string(),
    actorName: z
      .string()
      .describe("the user's name for user:<id> actors, else the actor; not part of the hashed body"),
    at: timestampSchema,
    data: z.record(z.string(), z.unknown()),
    hash: sha256HexSchema.describe(
      'SHA-256 of the RFC 8785 canonical body (the object without hash, logIndex and actorName)',
    ),
    logIndex: z.number().int().min(0).nullable().describe('null until the sequencer integrates it'),
  })
  .openapi('LedgerEvent');

export const ledgerEventPageSchema = z
  .strictObject({
    items: z.array(ledgerEventSchema),
    nextCursor: z.string().nullable().describe('seq to pass as cursor for the next page'),
  })
  .openapi('LedgerEventPage');

export const chainVerdictSchema = z
  .strictObject({
    valid: z.boolean(),
    length: z.number().int().min(0),
    headHash: sha256HexSchema.nullable(),
    firstInvalidSeq: z.number().int().optional(),
    reason: z.string().optional(),
  })
  .openapi('ChainVerdict');

/** GET /v1/sources/:id/custody/verify: the chain's verdict, proven against a signed checkpoint. */
export const custodyVerdictSchema = chainVerdictSchema
  .extend({
    checkpoint: z.strictObject({ size: z.number().int().min(0) }).nullable(),
    pending: z.number().int().min(0),
  })
  .openapi('CustodyVerdict');

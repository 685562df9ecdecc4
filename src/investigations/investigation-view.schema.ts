// Response shapes of investigations and memberships (investigationView(), addMember()).
import { z } from 'zod';
import '../http/openapi.ts';
import { timestampSchema } from '../evidence/evidence-view.schema.ts';
import { roles } from '../users/users.service.ts';

export const investigationSchema = z
  .strictObject({
    id: z.string(),
    title: z.string(),
    description: z.string().nullable(),
    createdBy: z.string(),
    createdAt: timestampSchema,
  })
  .openapi('Investigation');
export type InvestigationView = z.infer<typeof investigationSchema>;

export const investigationPageSchema = z
  .strictObject({ items: z.array(investigationSchema), nextCursor: z.string().nullable() })
  .openapi('InvestigationPage');

export const membershipSchema = z
  .strictObject({
    investigationId: z.string(),
    userId: z.string(),
    role: z.enum(roles),
    addedAt: timestampSchema,
  })
  .openapi('Membership');

export const memberSchema = z
  .strictObject({
    investigationId: z.string(),
    userId: z.string(),
    name: z.string(),
    role: z.enum(roles),
    addedAt: timestampSchema,
  })
  .openapi('Member');
export type MemberView = z.infer<typeof memberSchema>;

export const memberListSchema = z.strictObject({ items: z.array(memberSchema) }).openapi('MemberList');

export const memberRemovedSchema = z
  .strictObject({ investigationId: z.string(), userId: z.string(), removedAt: timestampSchema })
  .openapi('MemberRemoved');

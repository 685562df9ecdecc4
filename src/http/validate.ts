// Request validation at the edge: zod parses, failures become 400 problems listing each field.
import type { Request } from 'express';
import type { z } from 'zod';
import { AppError } from '../lib/errors.ts';
import { findUnstorableText } from '../lib/storable-text.ts';
import { zodToFieldErrors } from './problem.ts';
import { unstorableTextError } from './request-context.ts';

function parseOr400<S extends z.ZodType>(schema: S, value: unknown, root: string): z.infer<S> {
  // Body and query were checked on arrival (refuseUnstorableText); path parameters exist
  // only once a route matched, so they are checked here (e.g. /claims/a%00b).
  const unstorable = findUnstorableText(value, root);
  if (unstorable.length > 0) throw unstorableTextError(root, unstorable);
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new AppError(
      'validation_failed',
      `The request ${root} is invalid.`,
      zodToFieldErrors(r.error, root),
    );
  }
  return r.data;
}

export const parseQuery = <S extends z.ZodType>(schema: S, req: Request) =>
  parseOr400(schema, req.query, 'query');
export const parseBody = <S extends z.ZodType>(schema: S, req: Request) =>
  parseOr400(schema, req.body ?? {}, 'body');
export const parseParams = <S extends z.ZodType>(schema: S, req: Request) =>
  parseOr400(schema, req.params, 'params');

// Form fields → the request shapes the REST routes validate, validated by the same zod
// schemas (so a form cannot put into a service what the API would refuse).
import type { Request } from 'express';
import type { z } from 'zod';
import { zodToFieldErrors } from '../http/problem.ts';
import { unstorableTextError } from '../http/request-context.ts';
import { AppError } from '../lib/errors.ts';
import { findUnstorableText } from '../lib/storable-text.ts';

/** A form field as typed, trimmed; undefined when absent or blank. A repeated field (a
 * crafted request) is refused rather than guessed at. */
export function field(req: Request, name: string): string | undefined {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    throw new AppError('validation_failed', 'The form is invalid.', [
      { path: `form.${name}`, message: 'must be given once' },
    ]);
  const t = v.trim();
  return t === '' ? undefined : t;
}

/** Drops undefined members, so absent fields stay absent for strict schemas. */
export function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Validates a form turned into a request body; 400 naming each field otherwise. */
export function parseForm<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const unstorable = findUnstorableText(value, 'form');
  if (unstorable.length > 0) throw unstorableTextError('form', unstorable);
  const r = schema.safeParse(value);
  if (!r.success)
    throw new AppError('validation_failed', 'The form is invalid.', zodToFieldErrors(r.error, 'form'));
  return r.data;
}

/** A date field (`2024-12-17`) or a date-time (`2024-12-17T10:30`) as an RFC 3339 UTC time. */
export function formDateTime(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return `${v}T00:00:00Z`;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v)) return `${v}:00Z`;
  return v; // the schema says what is wrong with it
}

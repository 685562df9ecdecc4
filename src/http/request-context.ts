// Request ids and JSON body handling shared by every route.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import express, { type RequestHandler } from 'express';
import { AppError, type FieldError } from '../lib/errors.ts';
import { findUnstorableText } from '../lib/storable-text.ts';

const acceptableId = /^[A-Za-z0-9._:-]{1,128}$/;

/** Reuses a caller's X-Request-Id when it is sane (so traces join up), else makes one. */
export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && acceptableId.test(given) ? given : randomUUID();
}

/** The one route that takes multipart/form-data (a journalist's upload, streamed). */
const UPLOAD_PATH = /^\/(?:v1\/)?sources\/[^/]+\/evidence\/?$/;
export const isUploadRequest = (req: express.Request) =>
  req.method === 'POST' &&
  UPLOAD_PATH.test(req.path) &&
  req.is('multipart/form-data') === 'multipart/form-data';

/** A body on a JSON route must say it is JSON: anything else is a 415, not a silent `{}`. */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const hasBody =
    req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (hasBody && !req.is('application/json') && !isUploadRequest(req)) {
    next(
      new AppError(
        'unsupported_media_type',
        `Content-Type must be application/json, got ${req.headers['content-type'] ?? 'none'}.`,
      ),
    );
    return;
  }
  next();
};

export const jsonBody = (limitBytes: number) =>
  express.json({ limit: limitBytes, strict: true, type: 'application/json' });

/** Deepest nesting a request body may have. Our bodies need 3 levels; recursive code
 * (validation, canonicalization for Idempotency-Key) must never meet 100,000. */
export const MAX_JSON_DEPTH = 32;

/** Depth of a parsed JSON value, computed without recursion. */
export function jsonDepth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > MAX_JSON_DEPTH) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

export const limitJsonDepth: RequestHandler = (req, _res, next) => {
  if (jsonDepth(req.body) > MAX_JSON_DEPTH) {
    next(new AppError('bad_request', `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`));
    return;
  }
  next();
};

/**
 * Refuses text PostgreSQL cannot store (NUL, lone surrogates) anywhere in the parsed body
 * (keys too) or the query, for every route at once and before anything (an idempotency
 * record included) is written: a 400 naming each field instead of a 500 from the database.
 * Path parameters are checked where they are parsed (validate.ts).
 */
export const refuseUnstorableText: RequestHandler = (req, _res, next) => {
  for (const [root, value] of [
    ['body', req.body],
    ['query', req.query],
  ] as const) {
    const errors = findUnstorableText(value, root);
    if (errors.length > 0) {
      next(unstorableTextError(root, errors));
      return;
    }
  }
  next();
};

export const unstorableTextError = (root: string, errors: FieldError[]) =>
  new AppError(
    'validation_failed',
    `Text in the request ${root} cannot be stored (a NUL character or a lone UTF-16 surrogate).`,
    errors,
  );

// Request ids and JSON body handling shared by every route.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import express, { type RequestHandler } from 'express';
import { AppError } from '../lib/errors.ts';

const acceptableId = /^[A-Za-z0-9._:-]{1,128}$/;

/** Reuses a caller's X-Request-Id when it is sane (so traces join up), else makes one. */
export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && acceptableId.test(given) ? given : randomUUID();
}

/** A body on a JSON route must say it is JSON: anything else is a 415, not a silent `{}`. */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const hasBody =
    req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (hasBody && !req.is('application/json')) {
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

// Error → RFC 9457 problem+json. Known errors keep their code; body-parser, zod and
// everything else are mapped here so no route has to; a 500 reveals nothing internal.
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { AppError, toProblem } from '../lib/errors.ts';

export function sendProblem(res: Response, err: AppError): void {
  res
    .status(err.status)
    .type('application/problem+json')
    .send(JSON.stringify(toProblem(err, res.req.originalUrl.split('?')[0])));
}

export const zodToFieldErrors = (error: z.ZodError, root: string) =>
  error.issues.map((i) => ({
    path: [root, ...i.path.map(String)].join('.'),
    message: i.message,
  }));

interface HttpishError {
  type?: string;
  status?: number;
  statusCode?: number;
  expose?: boolean;
  limit?: number;
}

/** Maps errors thrown by Express' body parsers (http-errors) to our catalogue. */
function fromBodyParser(err: HttpishError): AppError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return new AppError('malformed_json', 'The request body is not valid JSON.');
    case 'entity.too.large':
      return new AppError('payload_too_large', `The request body exceeds the limit of ${err.limit} bytes.`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('unsupported_media_type', 'The request body must be UTF-8 encoded JSON.');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new AppError('bad_request', 'The request body could not be read.');
    default:
      // A gzip/deflate/br body that does not inflate: body-parser raises zlib's error as a 400
      // with no type. Any 400 is the client's (never a 500).
      return err.status === 400 && err.expose
        ? new AppError('bad_request', 'The request body could not be read (bad content encoding).')
        : undefined;
  }
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError('not_found', `No route for ${req.method} ${req.path}.`));
};

export const errorHandler: ErrorRequestHandler = (err: unknown, req, res, _next) => {
  let appError: AppError;
  if (err instanceof AppError) appError = err;
  else if ((err as { code?: string }).code === 'P2002') {
    // A unique index lost a race the service did not serialize: the request conflicts.
    appError = new AppError('conflict', 'The request conflicts with an existing resource.');
  } else if (err instanceof URIError) {
    // The router could not percent-decode a path segment (e.g. /claims/%ED%A0%80, %ZZ).
    appError = new AppError('bad_request', 'The request path is not valid percent-encoded UTF-8.');
  } else if (err instanceof z.ZodError) {
    appError = new AppError('validation_failed', 'The request is invalid.', zodToFieldErrors(err, 'body'));
  } else {
    appError =
      fromBodyParser(err as HttpishError) ?? new AppError('internal', 'An unexpected error occurred.');
  }
  if (appError.status >= 500) {
    req.log?.error({ err }, 'request failed');
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendProblem(res, appError);
};

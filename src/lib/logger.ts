// Structured logging (pino). Tokens, cookies and keys are redacted wherever they appear.
import { type Logger, pino } from 'pino';
import { config } from '../config/env.ts';

export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.token',
  '*.password',
  '*.signerKey',
  'token',
  'signerKey',
];

let root: Logger | undefined;

export function logger(): Logger {
  root ??= pino({
    level: config().LOG_LEVEL,
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { service: 'claimtrail' },
  });
  return root;
}

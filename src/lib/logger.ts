// Structured logging (pino). Tokens, cookies and keys are redacted wherever they appear, and
// every line is bounded: an error's message and stack, a URL, a header value are cut to a
// few KiB (a Prisma error used to carry the query, its hostile input and pages of the
// client's own source: ~70 KB per failed request). Request bodies are never logged.
import { type DestinationStream, type Logger, type LoggerOptions, pino, stdSerializers } from 'pino';
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

/** Longest string kept in an error (message, stack, any property); longer ones are cut. */
export const LOG_MAX_ERROR_STRING = 2048;
/** Longest URL or header value kept in a request line. */
export const LOG_MAX_REQUEST_STRING = 1024;
const MAX_DEPTH = 4;
const MAX_ENTRIES = 20;

const REDACTED = '[redacted]';
// Our bearer tokens (ct_ + 43 base64url characters), wherever they appear in a URL or value.
const TOKEN_ANYWHERE = /ct_[A-Za-z0-9_-]{8,}/g;
// Query parameters that carry credentials by convention, whatever their value looks like.
const SECRET_PARAM = /^(?:token|access_token|api_key|apikey|key|auth|password|secret|signature|sig)$/i;

const cut = (s: string, max: number) =>
  s.length <= max ? s : `${s.slice(0, max)}…[${s.length - max} more characters]`;

/** `text` with tokens replaced, then cut to `max`. */
const scrubbed = (text: string, max: number) => cut(text.replace(TOKEN_ANYWHERE, REDACTED), max);

/** A part of a URL percent-decoded (`+` as a space), or as written when an escape is malformed. */
function decodedPart(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    return part;
  }
}

// A token spelled with escapes (`ct%5F…`, `%63t_…`) is still a token: judged decoded.
const HAS_TOKEN = new RegExp(TOKEN_ANYWHERE.source);

/** A request target with credential-bearing query values and any ct_ token redacted. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = (q === -1 ? url : url.slice(0, q))
    .split('/')
    .map((segment) => (!HAS_TOKEN.test(segment) && HAS_TOKEN.test(decodedPart(segment)) ? REDACTED : segment))
    .join('/');
  if (q === -1) return scrubbed(path, LOG_MAX_REQUEST_STRING);
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq === -1 ? pair : pair.slice(0, eq);
      if (eq === -1) return HAS_TOKEN.test(decodedPart(pair)) ? REDACTED : pair;
      const secret = SECRET_PARAM.test(decodedPart(name)) || HAS_TOKEN.test(decodedPart(pair.slice(eq + 1)));
      return secret ? `${name}=${REDACTED}` : pair;
    })
    .join('&');
  return scrubbed(`${path}?${query}`, LOG_MAX_REQUEST_STRING);
}

/** A copy of a JSON-ish value with long strings cut, depth and width bounded. */
function bounded(value: unknown, max: number, depth = 0, key = ''): unknown {
  if (typeof value === 'string')
    return key !== '' && SECRET_PARAM.test(key) ? REDACTED : scrubbed(value, max);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[object]';
  if (Array.isArray(value)) return value.slice(0, MAX_ENTRIES).map((v) => bounded(v, max, depth + 1));
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [k, v] of Object.entries(value)) {
    // http-errors from body parsers carry the raw body: it is the client's data, not ours to log.
    if (k === 'body' || k === 'raw') continue;
    if (n++ >= MAX_ENTRIES) break;
    // A key can carry a token too (`?ct_…` parses to the query key `ct_…`).
    out[scrubbed(k, 128)] = bounded(v, max, depth + 1, k);
  }
  return out;
}

/** pino's error serializer, bounded (also given already-serialized errors, by pino-http). */
function errSerializer(err: unknown): unknown {
  const plain = err instanceof Error ? stdSerializers.err(err) : err;
  return bounded(plain, LOG_MAX_ERROR_STRING);
}

interface SerializedReq {
  url?: string;
  query?: unknown;
  params?: unknown;
  headers?: unknown;
  [key: string]: unknown;
}

/** pino-http's request serializer, after the standard one: URL, query and headers scrubbed. */
function reqSerializer(req: SerializedReq): SerializedReq {
  const out: SerializedReq = { ...req };
  if (typeof req.url === 'string') out.url = redactUrl(req.url);
  for (const key of ['query', 'params', 'headers'] as const) {
    if (req[key] !== undefined) out[key] = bounded(req[key], LOG_MAX_REQUEST_STRING);
  }
  return out;
}

export const logSerializers = { err: errSerializer, req: reqSerializer };

/** A logger with the service's redaction and bounds; `destination` for tests (default stdout). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    redact: { paths: redactPaths, censor: REDACTED },
    base: { service: 'claimtrail' },
    serializers: { err: errSerializer },
  };
  return destination ? pino(options, destination) : pino(options);
}

let root: Logger | undefined;

export function logger(): Logger {
  root ??= createLogger(config().LOG_LEVEL);
  return root;
}

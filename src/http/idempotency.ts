// Idempotency-Key on POST (API.md): the same key with the same request returns the first
// response and creates nothing new; the same key with another request is a 422. Two identical
// requests racing: the second waits for the first and replays its response.
// A record expires IDEMPOTENCY_TTL_SECONDS after its request (then the key is new again); an
// in-flight key is a lease its request renews while it runs, so a key whose process died is
// free again within one lease; and secrets a route marks are never stored (see README).
import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { AppContext } from '../context.ts';
import { canonicalJson, sha256Hex } from '../ledger/canonical.ts';
import { AppError } from '../lib/errors.ts';
import { principalOf } from './authenticate.ts';
import { IdempotencyStore, type KeyRef } from './idempotency-store.ts';
import { isUploadRequest } from './request-context.ts';

const keyPattern = /^[\x21-\x7e]{1,255}$/;

export interface IdempotencyOptions {
  /** How long a retry waits for an identical request in flight before answering 409. */
  waitMs?: number;
  /** Lease of an in-flight key; its request renews it every third of this while it runs. */
  leaseMs?: number;
}

const DEFAULT_WAIT_MS = 10_000;
const DEFAULT_LEASE_MS = 30_000;
// Expired rows are deleted by the middleware itself, at most once a minute per process and a
// bounded batch at a time: no job to schedule, and rows only accumulate where keys are used.
const SWEEP_EVERY_MS = 60_000;
const SWEEP_BATCH = 1000;

const withheldFields = Symbol('idempotency.withheld');
type WithholdingResponse = Response & { [withheldFields]?: readonly string[] };

/**
 * Marks fields of this response as secrets (e.g. a token shown once). The stored copy, which
 * a replay returns, has each set to null and `<field>Withheld: true` beside it.
 */
export function withholdOnReplay(res: Response, ...fields: string[]): void {
  (res as WithholdingResponse)[withheldFields] = fields;
}

/** The response as it is stored for replays: the marked secret fields withheld. */
export function redactForReplay(body: unknown, fields: readonly string[] = []): unknown {
  if (fields.length === 0 || body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const copy: Record<string, unknown> = { ...body };
  for (const field of fields) {
    if (!(field in copy)) continue;
    copy[field] = null;
    copy[`${field}Withheld`] = true;
  }
  return copy;
}

function replay(res: Response, status: number | null, body: string | null) {
  res
    .status(status ?? 200)
    .set('Idempotent-Replayed', 'true')
    .set('Cache-Control', 'no-store')
    .type('application/json')
    .send(body);
}

export function idempotency(ctx: AppContext, options: IdempotencyOptions = {}): RequestHandler {
  const waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const store = new IdempotencyStore(ctx.pool, ctx.config.IDEMPOTENCY_TTL_SECONDS, leaseMs);
  let nextSweep = 0;

  return async (req, res, next) => {
    const key = req.get('Idempotency-Key');
    if (req.method !== 'POST' || key === undefined) return next();
    // Uploads stream their body, so it cannot be hashed up front; they are idempotent by
    // content anyway (the same bytes are the same evidence item, stored once).
    if (isUploadRequest(req)) return next();
    if (!keyPattern.test(key)) {
      throw new AppError('bad_request', 'Idempotency-Key must be 1–255 visible ASCII characters.');
    }
    if (Date.now() >= nextSweep) {
      nextSweep = Date.now() + SWEEP_EVERY_MS;
      store
        .deleteExpired(SWEEP_BATCH)
        .catch((err: Error) =>
          req.log?.warn({ err: err.message }, 'could not delete expired idempotency keys'),
        );
    }
    const ref: KeyRef = { userId: principalOf(req).id, key, owner: randomUUID() };
    const requestHash = sha256Hex(`${req.method} ${req.originalUrl}\n${canonicalJson(req.body ?? null)}`);
    const deadline = Date.now() + waitMs;

    for (;;) {
      if (await store.claim(ref, requestHash)) break; // ours: run the request, settle it below
      const row = await store.lookup(ref.userId, ref.key);
      // Gone (released), expired or abandoned since the claim: claim again.
      if (!row || row.expired || row.abandoned) continue;
      if (row.request_hash !== requestHash) {
        throw new AppError(
          'idempotency_key_reused',
          'This Idempotency-Key was used with a different request.',
        );
      }
      if (row.status !== null) return replay(res, row.status, row.response_body);
      if (Date.now() > deadline) {
        throw new AppError(
          'conflict',
          'A request with this Idempotency-Key is still in progress; retry later.',
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    holdUntilSettled(req.log, res, store, ref, leaseMs);
    next();
  };
}

type RequestLog = { error: (obj: object, msg: string) => void } | undefined;

/**
 * Keeps the key's lease alive while the handler runs and settles the key when the handler
 * ends its response (res.end, which every response path calls, even after the client has
 * gone): a 2xx JSON body is recorded for replays, anything else releases the key at once,
 * so a retry runs again (a 4xx wrote nothing; a 5xx may be transient). A client that aborts
 * does not release the key by itself: the handler may still commit, and its response is then
 * what the retry gets. A response destroyed without end (an error after the headers) stops
 * the renewals, so the lease lapses and a retry takes the key over.
 */
function holdUntilSettled(
  log: RequestLog,
  res: Response,
  store: IdempotencyStore,
  ref: KeyRef,
  leaseMs: number,
) {
  const onError = (what: string) => (err: Error) => log?.error({ err: err.message }, what);
  const heartbeat = setInterval(
    () => store.renew(ref).catch(onError('could not renew an idempotency key')),
    Math.max(1, Math.floor(leaseMs / 3)),
  );
  heartbeat.unref();

  let body: unknown;
  let settled = false;
  const json = res.json.bind(res);
  res.json = (value: unknown) => {
    body = value;
    return json(value);
  };
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  res.end = ((...args: unknown[]) => {
    if (!settled) {
      settled = true;
      clearInterval(heartbeat);
      const ok = res.statusCode < 300 && body !== undefined;
      const fields = (res as WithholdingResponse)[withheldFields];
      (ok
        ? store.record(ref, res.statusCode, JSON.stringify(redactForReplay(body, fields)))
        : store.release(ref)
      ).catch(onError('could not record the idempotency key'));
    }
    return end(...args);
  }) as Response['end'];
  res.on('close', () => {
    if (!settled) clearInterval(heartbeat);
  });
}

// Idempotency-Key on POST (API.md): the same key with the same request returns the first
// response and creates nothing new; the same key with another request is a 422. Two identical
// requests racing: the second waits for the first and replays its response.
import type { RequestHandler, Response } from 'express';
import { principalOf } from '../access/auth.ts';
import type { AppContext } from '../context.ts';
import { canonicalJson, sha256Hex } from '../ledger/canonical.ts';
import { AppError } from '../lib/errors.ts';
import { isUploadRequest } from './request-context.ts';

const keyPattern = /^[\x21-\x7e]{1,255}$/;
const waitForFirstMs = 10_000;

interface StoredRow {
  request_hash: string;
  status: number | null;
  response_body: string | null;
}

function replay(res: Response, row: StoredRow) {
  res
    .status(row.status ?? 200)
    .set('Idempotent-Replayed', 'true')
    .type('application/json')
    .send(row.response_body);
}

export function idempotency(ctx: AppContext): RequestHandler {
  const { pool } = ctx;
  return async (req, res, next) => {
    const key = req.get('Idempotency-Key');
    if (req.method !== 'POST' || key === undefined) return next();
    // Uploads stream their body, so it cannot be hashed up front; they are idempotent by
    // content anyway (the same bytes are the same evidence item, stored once).
    if (isUploadRequest(req)) return next();
    if (!keyPattern.test(key)) {
      throw new AppError('bad_request', 'Idempotency-Key must be 1–255 visible ASCII characters.');
    }
    const userId = principalOf(req).id;
    const requestHash = sha256Hex(`${req.method} ${req.originalUrl}\n${canonicalJson(req.body ?? null)}`);
    const deadline = Date.now() + waitForFirstMs;

    for (;;) {
      const claimed = await pool.query(
        `INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING 1`,
        [userId, key, requestHash],
      );
      if (claimed.rowCount === 1) break; // first: run the request, record its response below
      const { rows } = await pool.query<StoredRow>(
        'SELECT request_hash, status, response_body FROM idempotency_keys WHERE user_id = $1 AND key = $2',
        [userId, key],
      );
      const row = rows[0];
      if (!row) continue; // the first attempt failed and released the key: try to claim it
      if (row.request_hash !== requestHash) {
        throw new AppError(
          'idempotency_key_reused',
          'This Idempotency-Key was used with a different request.',
        );
      }
      if (row.status !== null) return replay(res, row);
      if (Date.now() > deadline) {
        throw new AppError(
          'conflict',
          'A request with this Idempotency-Key is still in progress; retry later.',
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }

    // Record the JSON a successful handler sends; anything else releases the key, so a
    // retry runs again (a 4xx wrote nothing; a 5xx may be transient).
    let body: unknown;
    const json = res.json.bind(res);
    res.json = (value: unknown) => {
      body = value;
      return json(value);
    };
    res.on('finish', () => {
      const ok = res.statusCode < 300 && body !== undefined;
      const query = ok
        ? pool.query(
            'UPDATE idempotency_keys SET status = $3, response_body = $4 WHERE user_id = $1 AND key = $2',
            [userId, key, res.statusCode, JSON.stringify(body)],
          )
        : pool.query('DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status IS NULL', [
            userId,
            key,
          ]);
      query.catch((err: Error) =>
        req.log?.error({ err: err.message }, 'could not record the idempotency key'),
      );
    });
    next();
  };
}

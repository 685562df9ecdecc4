// One fetch of one URL into the blob store: the guarded fetcher's body streams straight into
// the store, which hashes it in the same pass. What comes back is everything the `fetched`
// and `stored` events record.
import {
  FetchRefusedError,
  FetchTransientError,
  type GuardedFetcher,
  type GuardedResponse,
  type RedirectHop,
} from '../fetch/guarded-fetcher.ts';
import type { ByteSink, ByteSource } from '../lib/byte-sink.ts';
import { POST_RECORD_MAX_BYTES, postAbsence } from '../media/x-syndication.ts';
import type { BlobStore, BlobWriteResult } from '../storage/blob-store.ts';
import { BlobTooLargeError } from '../storage/blob-store.ts';

/** Response headers worth keeping in the chain of custody (they date and identify content). */
const KEPT_HEADERS = [
  'content-type',
  'content-length',
  'content-disposition',
  'etag',
  'last-modified',
  'date',
  'server',
  'cache-control',
  'age',
  'x-cache',
];

/** One HTTP exchange as the `fetched` event records it. */
export interface FetchedExchange {
  url: string;
  finalUrl: string;
  status: number;
  redirects: RedirectHop[];
  headers: Record<string, string>;
  remoteAddress: string;
  bytes: number;
}

export interface FetchedContent extends Omit<FetchedExchange, 'bytes'> {
  blob: BlobWriteResult;
}

/** The response said the content is gone or never was (404/410): `source_gone` on recapture. */
export class ContentGoneError extends Error {
  override name = 'ContentGoneError';
  constructor(
    readonly status: number,
    readonly url: string,
  ) {
    super(`HTTP ${status} from ${url}`);
  }
}

/**
 * The platform answered that the post does not exist (or no longer shows it). Not an item of
 * evidence: the exchange that said so goes into the chain as `fetched`, with the failure.
 */
export class PostNotFoundError extends Error {
  override name = 'PostNotFoundError';
  constructor(
    readonly exchange: FetchedExchange,
    readonly detail: string,
  ) {
    super(detail);
  }
}

type Opts = { maxBytes: number; tmpKey: string; accept?: string };

/** Throws for any status but 200 (after discarding the body). */
async function refuseUnlessOk(res: GuardedResponse): Promise<void> {
  if (res.status === 200) return;
  await res.discard();
  if (res.status === 404 || res.status === 410) throw new ContentGoneError(res.status, res.finalUrl);
  // 5xx and 429 may heal; any other status will not.
  if (res.status >= 500 || res.status === 429)
    throw new FetchTransientError('server_error', `HTTP ${res.status} from ${res.finalUrl}`);
  throw new FetchRefusedError('bad_response', `HTTP ${res.status} from ${res.finalUrl}`);
}

async function store(res: GuardedResponse, blobs: BlobStore, source: ByteSource, opts: Opts) {
  try {
    return await blobs.put(source, {
      maxBytes: opts.maxBytes,
      tmpKey: opts.tmpKey,
      expectedBytes: res.contentLength,
    });
  } catch (err) {
    if (err instanceof BlobTooLargeError)
      throw new FetchRefusedError('too_large', `response is larger than ${err.maxBytes} bytes`);
    throw err;
  }
}

function exchangeOf(url: string, res: GuardedResponse, bytes: number): FetchedExchange {
  const headers = Object.fromEntries(
    KEPT_HEADERS.filter((h) => res.headers[h] !== undefined).map((h) => [h, res.headers[h]!.slice(0, 1024)]),
  );
  return {
    url,
    finalUrl: res.finalUrl,
    status: res.status,
    redirects: res.redirects,
    headers,
    remoteAddress: res.remoteAddress,
    bytes,
  };
}

export async function fetchToStore(
  fetcher: GuardedFetcher,
  blobs: BlobStore,
  url: string,
  opts: Opts,
): Promise<FetchedContent> {
  const res = await fetcher.fetch(url, { headers: { accept: opts.accept ?? '*/*' } });
  await refuseUnlessOk(res);
  const blob = await store(res, blobs, { pipeTo: res.pipeTo }, opts);
  const { bytes: _, ...exchange } = exchangeOf(url, res, blob.size);
  return { ...exchange, blob };
}

/**
 * An X post's syndication record. It is small, so it is read whole first: an answer that says
 * there is no such post (404/410, `{}`, a tombstone) is never stored as evidence but thrown as
 * PostNotFoundError with its exchange; any other 200 is stored like every fetched body.
 */
export async function fetchPostRecord(
  fetcher: GuardedFetcher,
  blobs: BlobStore,
  url: string,
  opts: Opts,
): Promise<FetchedContent> {
  const res = await fetcher.fetch(url, { headers: { accept: opts.accept ?? 'application/json' } });
  if (res.status !== 404 && res.status !== 410) await refuseUnlessOk(res);
  const limit = Math.min(opts.maxBytes, POST_RECORD_MAX_BYTES);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > limit) throw new FetchRefusedError('too_large', `post record is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  const absent = res.status === 200 ? postAbsence(body) : `HTTP ${res.status}: no such post`;
  if (absent !== undefined) throw new PostNotFoundError(exchangeOf(url, res, body.length), absent);
  const pipeTo = async (sink: ByteSink) => {
    if (!sink.write(body)) await sink.drained();
  };
  const blob = await store(res, blobs, { pipeTo }, opts);
  const { bytes: _, ...exchange } = exchangeOf(url, res, blob.size);
  return { ...exchange, blob };
}

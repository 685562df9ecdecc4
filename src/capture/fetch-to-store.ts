// One fetch of one URL into the blob store: the guarded fetcher's body streams straight into
// the store, which hashes it in the same pass. What comes back is everything the `fetched`
// and `stored` events record.
import {
  FetchRefusedError,
  FetchTransientError,
  type GuardedFetcher,
  type RedirectHop,
} from '../fetch/guarded-fetcher.ts';
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

export interface FetchedContent {
  url: string;
  finalUrl: string;
  status: number;
  redirects: RedirectHop[];
  headers: Record<string, string>;
  remoteAddress: string;
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

export async function fetchToStore(
  fetcher: GuardedFetcher,
  blobs: BlobStore,
  url: string,
  opts: { maxBytes: number; tmpKey: string; accept?: string },
): Promise<FetchedContent> {
  const res = await fetcher.fetch(url, { headers: { accept: opts.accept ?? '*/*' } });
  if (res.status !== 200) {
    await res.discard();
    if (res.status === 404 || res.status === 410) throw new ContentGoneError(res.status, res.finalUrl);
    // 5xx and 429 may heal; any other status will not.
    if (res.status >= 500 || res.status === 429)
      throw new FetchTransientError('server_error', `HTTP ${res.status} from ${res.finalUrl}`);
    throw new FetchRefusedError('bad_response', `HTTP ${res.status} from ${res.finalUrl}`);
  }
  let blob: BlobWriteResult;
  try {
    blob = await blobs.put(
      { pipeTo: res.pipeTo },
      { maxBytes: opts.maxBytes, tmpKey: opts.tmpKey, expectedBytes: res.contentLength },
    );
  } catch (err) {
    if (err instanceof BlobTooLargeError)
      throw new FetchRefusedError('too_large', `response is larger than ${err.maxBytes} bytes`);
    throw err;
  }
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
    blob,
  };
}

// One timestamp request to one TSA, through the guarded fetcher (a TSA is an outside host like
// any other: checked addresses, byte and time caps), and the reply verified before it is
// returned. Every failure is a TimestampFailure whose reason becomes a metrics label.
import type { GuardedFetcher } from '../../fetch/guarded-fetcher.ts';
import { FetchError } from '../../fetch/guarded-fetcher.ts';
import { timestampDigest, timestampedBytes } from './timestamped-bytes.ts';
import { timestampRequest } from './tsa-request.ts';
import { TimestampRefused, type VerifiedTimestamp, verifyTimestampResponse } from './tsa-verify.ts';

/** A reply is a few KiB; anything near this is not one. */
const MAX_REPLY_BYTES = 256 * 1024;

export class TimestampFailure extends Error {
  constructor(
    readonly outcome: 'refused' | 'failed',
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'TimestampFailure';
  }
}

async function readAll(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Asks `tsaUrl` to timestamp the checkpoint `signedNote`; resolves only to a verified timestamp. */
export async function requestTimestamp(
  fetcher: GuardedFetcher,
  tsaUrl: string,
  signedNote: string,
  anchors: readonly Buffer[],
): Promise<VerifiedTimestamp & { digest: Buffer }> {
  const digest = timestampDigest(signedNote);
  const request = timestampRequest(digest);
  let reply: Buffer;
  try {
    const res = await fetcher.fetch(tsaUrl, {
      post: { body: request.der, contentType: 'application/timestamp-query' },
      headers: { accept: 'application/timestamp-reply' },
    });
    if (res.status !== 200) {
      await res.discard();
      throw new TimestampFailure('failed', `http_${res.status}`, `the TSA answered HTTP ${res.status}`);
    }
    reply = await readAll(res.body);
  } catch (err) {
    if (err instanceof TimestampFailure) throw err;
    const code = err instanceof FetchError ? err.code : 'network';
    throw new TimestampFailure('failed', code, `request to the TSA failed: ${(err as Error).message}`);
  }
  if (reply.length > MAX_REPLY_BYTES)
    throw new TimestampFailure('refused', 'malformed', `a ${reply.length}-byte reply is no timestamp`);
  try {
    const verified = await verifyTimestampResponse(reply, {
      data: timestampedBytes(signedNote),
      nonce: request.nonce,
      anchors,
    });
    return { ...verified, digest };
  } catch (err) {
    if (err instanceof TimestampRefused) throw new TimestampFailure('refused', err.reason, err.message);
    throw new TimestampFailure('refused', 'malformed', (err as Error).message);
  }
}

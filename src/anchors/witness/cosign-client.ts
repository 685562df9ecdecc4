// One add-checkpoint exchange with a witness (C2SP tlog-witness), through the guarded fetcher,
// and what its answer means. A 200's signature lines are checked with the witness's key — the
// checkpoint with the lines appended must open as a signed note — before anyone keeps them.
import type { GuardedFetcher } from '../../fetch/guarded-fetcher.ts';
import { FetchError } from '../../fetch/guarded-fetcher.ts';
import { NoteError, openNote } from '../../log/note.ts';
import { formatAddCheckpoint, TLOG_SIZE_TYPE } from './add-checkpoint.ts';
import { type Cosignature, type CosignatureVerifier, decodeCosignature } from './cosignature.ts';

/** Why a witness gave no cosignature (the metrics' `reason` label). */
export type CosignFailure =
  | 'unreachable' // network, timeout, refused address, 5xx
  | 'bad_request' // 400: the witness could not parse our request
  | 'forbidden' // 403: it does not trust our key (or says our signature is bad)
  | 'unknown_log' // 404: it does not follow our origin
  | 'inconsistent' // 422: our proof does not lead from what it cosigned to our tree
  | 'conflict' // 409 again and again
  | 'bad_response'; // a 200 without a valid cosignature by its key, or any other status

export type CosignOutcome =
  | { kind: 'cosigned'; cosignature: Cosignature }
  | { kind: 'conflict'; witnessSize: number }
  | { kind: 'failed'; reason: CosignFailure; detail: string };

/** Witness answers are a few lines; anything longer is not one (the fetcher's byte cap). */
export const MAX_ANSWER_BYTES = 64 * 1024;
const SIZE_BODY = /^(?:0|[1-9][0-9]{0,15})\n$/;

const FAILURES: Record<number, CosignFailure> = {
  400: 'bad_request',
  403: 'forbidden',
  404: 'unknown_log',
  422: 'inconsistent',
};

async function readText(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** The first cosignature line by `witness`'s key in a signed note (null if none). */
function cosignatureOf(note: string, witness: CosignatureVerifier): Cosignature | null {
  const opened = openNote(note, [witness]);
  const sig = opened.signatures[0];
  return sig ? decodeCosignature(sig.name, sig.base64) : null;
}

/**
 * Sends `note` (our signed checkpoint) with the consistency proof from `oldSize` to the witness
 * at `url`. A 200 must carry a cosignature line by `witness` that verifies (lines by other
 * keys are ignored, as the spec says; one by its key that does not verify fails the answer).
 */
export async function requestCosignature(
  fetcher: GuardedFetcher,
  url: string,
  witness: CosignatureVerifier,
  request: { oldSize: number; proof: readonly Uint8Array[]; note: string },
): Promise<CosignOutcome> {
  let status: number;
  let contentType: string;
  let text: string;
  try {
    const res = await fetcher.fetch(`${url}/add-checkpoint`, {
      post: {
        body: formatAddCheckpoint(request.oldSize, request.proof, request.note),
        contentType: 'text/plain; charset=utf-8',
      },
      headers: { accept: 'text/plain, text/x.tlog.size' },
    });
    status = res.status;
    contentType = res.headers['content-type'] ?? '';
    text = await readText(res.body);
  } catch (err) {
    if (err instanceof FetchError) return { kind: 'failed', reason: 'unreachable', detail: err.message };
    throw err;
  }
  if (status === 409) {
    if (contentType.split(';')[0]?.trim() === TLOG_SIZE_TYPE && SIZE_BODY.test(text)) {
      return { kind: 'conflict', witnessSize: Number(text.trim()) };
    }
    return { kind: 'failed', reason: 'bad_response', detail: '409 without a text/x.tlog.size body' };
  }
  const short = text.slice(0, 200).trim();
  if (status >= 500) return { kind: 'failed', reason: 'unreachable', detail: `HTTP ${status}: ${short}` };
  if (status !== 200) {
    return { kind: 'failed', reason: FAILURES[status] ?? 'bad_response', detail: `HTTP ${status}: ${short}` };
  }
  try {
    const cosignature = cosignatureOf(request.note + text, witness);
    if (cosignature) return { kind: 'cosigned', cosignature };
  } catch (err) {
    if (!(err instanceof NoteError)) throw err;
    return {
      kind: 'failed',
      reason: 'bad_response',
      detail: `the answer is not a valid cosignature: ${err.message}`,
    };
  }
  return { kind: 'failed', reason: 'bad_response', detail: 'the answer holds no cosignature line' };
}

/** The witness's latest cosigned checkpoint of `origin` (C2SP monitoring endpoint), or null. */
export async function fetchWitnessedCheckpoint(
  fetcher: GuardedFetcher,
  url: string,
  originHash: string,
): Promise<string | null> {
  try {
    const res = await fetcher.fetch(`${url}/${originHash}/checkpoint`);
    if (res.status !== 200) {
      await res.discard();
      return null;
    }
    return await readText(res.body);
  } catch (err) {
    if (err instanceof FetchError) return null;
    throw err;
  }
}

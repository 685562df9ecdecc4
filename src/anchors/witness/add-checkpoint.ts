// The body of a C2SP tlog-witness `add-checkpoint` request (https://c2sp.org/tlog-witness):
// `old <size>\n`, up to 63 base64 consistency-proof hashes one per line, an empty line, then the
// signed checkpoint note. Written by the log side (cosign-client.ts), read by the witness.
import { HASH_SIZE } from '../../log/merkle.ts';

/** At most this many proof lines (a consistency proof of a 2^63-leaf tree is shorter). */
export const MAX_PROOF_LINES = 63;
/** The media type of a 409 body: the witness's tree size in decimal and "\n". */
export const TLOG_SIZE_TYPE = 'text/x.tlog.size';

export interface AddCheckpointRequest {
  oldSize: number;
  proof: Buffer[];
  /** The signed checkpoint note, as sent. */
  note: string;
}

/** The request is not an add-checkpoint body (the witness answers 400). */
export class AddCheckpointSyntaxError extends Error {
  override name = 'AddCheckpointSyntaxError';
}

const DECIMAL = /^(?:0|[1-9][0-9]{0,15})$/;
const BASE64_HASH = /^[A-Za-z0-9+/]{43}=$/;

/** The request body for `note` with the consistency proof from `oldSize`. */
export function formatAddCheckpoint(oldSize: number, proof: readonly Uint8Array[], note: string): string {
  const lines = proof.map((h) => `${Buffer.from(h).toString('base64')}\n`).join('');
  return `old ${oldSize}\n${lines}\n${note}`;
}

/** Parses a request body strictly: canonical decimal old size, canonical base64 32-byte hashes. */
export function parseAddCheckpoint(body: string): AddCheckpointRequest {
  const split = body.indexOf('\n\n');
  if (split < 0) throw new AddCheckpointSyntaxError('no empty line between the proof and the checkpoint');
  const [first, ...proofLines] = body.slice(0, split).split('\n');
  const oldText = first?.startsWith('old ') ? first.slice(4) : undefined;
  if (oldText === undefined || !DECIMAL.test(oldText) || !Number.isSafeInteger(Number(oldText))) {
    throw new AddCheckpointSyntaxError('the first line must be "old <size>" in canonical decimal');
  }
  if (proofLines.length > MAX_PROOF_LINES) {
    throw new AddCheckpointSyntaxError(`more than ${MAX_PROOF_LINES} consistency proof lines`);
  }
  const proof = proofLines.map((line, i) => {
    const hash = BASE64_HASH.test(line) ? Buffer.from(line, 'base64') : null;
    if (!hash || hash.length !== HASH_SIZE || hash.toString('base64') !== line) {
      throw new AddCheckpointSyntaxError(`proof line ${i + 1} is not a base64 SHA-256 hash`);
    }
    return hash;
  });
  return { oldSize: Number(oldText), proof, note: body.slice(split + 2) };
}

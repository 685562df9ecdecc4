// The witness side of C2SP tlog-witness (https://c2sp.org/tlog-witness): checks an
// add-checkpoint request against the log's keys and the head it cosigned before, advances that
// head atomically and answers with an Ed25519 cosignature/v1 line. HTTP-free: witness-server.ts
// maps the outcome to a response.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { type Checkpoint, CheckpointError, parseCheckpoint } from '../../log/checkpoint.ts';
import type { Queryable } from '../../log/log.repository.ts';
import { checkTree, EMPTY_TREE_HASH } from '../../log/merkle.ts';
import { NoteError, type NoteVerifier, openNote } from '../../log/note.ts';
import { AddCheckpointSyntaxError, parseAddCheckpoint, TLOG_SIZE_TYPE } from './add-checkpoint.ts';
import { type Cosigner, formatCosignatureLine } from './cosignature.ts';
import { advanceHead, type WitnessedHead, witnessedHead } from './witness-store.ts';

export interface WitnessReply {
  status: number;
  contentType: string;
  body: string;
}

export interface WitnessDeps {
  db: Queryable;
  cosigner: Cosigner;
  /** The logs followed: origin → the keys trusted to sign its checkpoints. */
  logs: ReadonlyMap<string, readonly NoteVerifier[]>;
  log: Logger;
}

const PLAIN = 'text/plain; charset=utf-8';
const text = (status: number, body: string): WitnessReply => ({
  status,
  contentType: PLAIN,
  body: `${body}\n`,
});
const conflict = (size: number): WitnessReply => ({
  status: 409,
  contentType: TLOG_SIZE_TYPE,
  body: `${size}\n`,
});

/** Lowercase hex SHA-256 of an origin: the path segment of the monitoring endpoint. */
export const originHash = (origin: string): string => createHash('sha256').update(origin).digest('hex');

/** The log's signature lines that verified, as they appear in the note. */
function verifiedSignatureLines(note: ReturnType<typeof openNote>): string {
  return note.signatures.map((s) => `\u2014 ${s.name} ${s.base64}\n`).join('');
}

/**
 * Handles one add-checkpoint body. 400 malformed; 404 unknown origin; 403 no valid signature by
 * a trusted key (or a bad one by a trusted key); 409 with our size when `old` is not it; 422 a
 * size-0 checkpoint whose root is not the empty tree's, a proof with old 0, a proof that does
 * not verify, or the same size with another root. Only after the compare-and-swap succeeded is
 * the checkpoint cosigned (200, one signature line).
 */
export async function addCheckpoint(deps: WitnessDeps, body: Buffer): Promise<WitnessReply> {
  let raw: string;
  try {
    raw = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return text(400, 'request body is not valid UTF-8');
  }
  let request: ReturnType<typeof parseAddCheckpoint>;
  try {
    request = parseAddCheckpoint(raw);
  } catch (err) {
    if (err instanceof AddCheckpointSyntaxError) return text(400, err.message);
    throw err;
  }
  const origin = request.note.slice(0, Math.max(0, request.note.indexOf('\n')));
  const keys = deps.logs.get(origin);
  if (!keys) return text(404, `unknown log origin ${JSON.stringify(origin)}`);
  let opened: ReturnType<typeof openNote>;
  let checkpoint: Checkpoint;
  try {
    opened = openNote(request.note, keys);
    checkpoint = parseCheckpoint(opened.text);
  } catch (err) {
    if (err instanceof NoteError && (err.code === 'unverified_note' || err.code === 'invalid_signature')) {
      return text(403, `checkpoint not signed by a key trusted for ${origin}: ${err.message}`);
    }
    if (err instanceof NoteError || err instanceof CheckpointError) return text(400, err.message);
    throw err;
  }
  const { oldSize, proof } = request;
  const { size, rootHash } = checkpoint;
  if (oldSize > size) return text(400, `old size ${oldSize} is larger than the checkpoint size ${size}`);
  if (size === 0 && !rootHash.equals(EMPTY_TREE_HASH)) {
    return text(422, 'a checkpoint of size 0 must have the root hash of the empty tree');
  }
  if (oldSize === 0 && proof.length > 0) return text(422, 'old size 0 takes no consistency proof');

  const known = await witnessedHead(deps.db, origin);
  const knownSize = known?.size ?? 0;
  if (oldSize !== knownSize) return conflict(knownSize);
  const log = deps.log.child({ origin, oldSize, size });
  if (known && oldSize === size && !known.rootHash.equals(rootHash)) {
    // Two checkpoints of one size with different roots, both signed by the log: a fork.
    log.error(
      { cosignedRoot: known.rootHash.toString('base64'), offeredRoot: rootHash.toString('base64') },
      'witness: the log signed two different roots for one tree size (fork); not cosigned',
    );
    return text(422, `the root hash differs from the one cosigned for size ${size}`);
  }
  if (known && oldSize > 0 && oldSize < size && !checkTree(proof, size, rootHash, oldSize, known.rootHash)) {
    log.error(
      { cosignedRoot: known.rootHash.toString('base64') },
      'witness: consistency proof from the cosigned head does not verify (the log may have rewritten history); not cosigned',
    );
    return text(422, `the consistency proof from size ${oldSize} does not verify`);
  }
  if (oldSize === size && proof.length > 0) return text(422, 'equal sizes take an empty consistency proof');

  const cosignature = formatCosignatureLine(deps.cosigner.cosign(opened.text));
  const next: WitnessedHead = {
    size,
    rootHash,
    note: `${opened.text}\n${verifiedSignatureLines(opened)}${cosignature}`,
  };
  // Never move backwards or sideways: the write happens only if the head is still `known`.
  if (!(await advanceHead(deps.db, origin, known, next))) {
    return conflict((await witnessedHead(deps.db, origin))?.size ?? 0);
  }
  log.info('witness: cosigned checkpoint');
  return { status: 200, contentType: PLAIN, body: cosignature };
}

/** GET <prefix>/<origin hash>/checkpoint: the latest cosigned checkpoint of that log, or 404. */
export async function latestCosigned(deps: WitnessDeps, hash: string): Promise<WitnessReply> {
  const origin = [...deps.logs.keys()].find((o) => originHash(o) === hash);
  const head = origin === undefined ? undefined : await witnessedHead(deps.db, origin);
  if (!head) return text(404, 'no checkpoint cosigned for that log');
  return { status: 200, contentType: PLAIN, body: head.note };
}

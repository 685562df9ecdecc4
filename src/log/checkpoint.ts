// C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): a signed note whose text is
// `origin\nsize\nbase64(root)\n`, optionally followed by non-empty extension lines.
import { HASH_SIZE } from './merkle.ts';
import {
  type NoteSigner,
  type NoteVerifier,
  type OpenedNote,
  openNote,
  parseVerifierKey,
  signNote,
} from './note.ts';

export interface Checkpoint {
  /** Log identity, e.g. `claimtrail.example/log`; non-empty. */
  origin: string;
  /** Tree size (number of leaves), a safe integer ≥ 0. */
  size: number;
  /** RFC 6962 root hash of the tree at `size`, 32 bytes. */
  rootHash: Buffer;
  /** Opaque extension lines (NOT RECOMMENDED by the spec); each non-empty. */
  extensions?: string[];
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

const SIZE = /^(?:0|[1-9][0-9]*)$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: a line holds no control character.
const CONTROL = /[\x00-\x1f]/;

function checkLine(value: string, what: string): void {
  if (value === '') throw new CheckpointError(`checkpoint ${what} must be non-empty`);
  if (CONTROL.test(value))
    throw new CheckpointError(`checkpoint ${what} must not contain control characters`);
}

/**
 * The checkpoint note text: origin, decimal size, base64 root hash, then any extension lines,
 * each ending in "\n". Throws CheckpointError on an empty origin, a negative or unsafe size,
 * a root hash that is not 32 bytes, or an empty extension line.
 */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, rootHash, extensions = [] } = checkpoint;
  checkLine(origin, 'origin');
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new CheckpointError(`checkpoint size must be a non-negative safe integer, got ${size}`);
  }
  if (rootHash.length !== HASH_SIZE)
    throw new CheckpointError(`checkpoint root hash must be ${HASH_SIZE} bytes`);
  for (const line of extensions) checkLine(line, 'extension line');
  return [origin, String(size), rootHash.toString('base64'), ...extensions, ''].join('\n');
}

/**
 * Parses checkpoint note text strictly: at least three lines, all ending in "\n"; a non-empty
 * origin; a decimal size without sign or leading zeros (0 allowed) that fits in a safe integer;
 * a root hash in canonical padded base64 of exactly 32 bytes; non-empty extension lines.
 * Invariant: formatCheckpoint(parseCheckpoint(text)) === text.
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new CheckpointError('checkpoint text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (origin === undefined || sizeText === undefined || rootText === undefined) {
    throw new CheckpointError('checkpoint needs origin, size and root hash lines');
  }
  checkLine(origin, 'origin');
  if (!SIZE.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw new CheckpointError(
      `checkpoint size ${JSON.stringify(sizeText)} is not a canonical decimal tree size`,
    );
  }
  const rootHash = Buffer.from(rootText, 'base64');
  if (rootHash.length !== HASH_SIZE || rootHash.toString('base64') !== rootText) {
    throw new CheckpointError('checkpoint root hash must be canonical base64 of 32 bytes');
  }
  for (const line of extensions) checkLine(line, 'extension line');
  const checkpoint: Checkpoint = { origin, size: Number(sizeText), rootHash };
  if (extensions.length > 0) checkpoint.extensions = extensions;
  return checkpoint;
}

/** Formats and signs a checkpoint; returns the signed note. */
export function signCheckpoint(checkpoint: Checkpoint, signer: NoteSigner | string): string {
  return signNote(formatCheckpoint(checkpoint), signer);
}

/**
 * Verifies a signed checkpoint with one verifier key and parses it. The note must carry a valid
 * signature by that key (signatures by other keys, e.g. witnesses, are ignored), and the origin
 * must equal `options.origin`, which defaults to the key name (C2SP: the key name SHOULD match
 * the origin). Throws NoteError for signature problems, CheckpointError for the body.
 */
export function openCheckpoint(
  noteText: string | Uint8Array,
  verifierKey: NoteVerifier | string,
  options: { origin?: string } = {},
): { checkpoint: Checkpoint; note: OpenedNote } {
  const verifier = typeof verifierKey === 'string' ? parseVerifierKey(verifierKey) : verifierKey;
  const note = openNote(noteText, [verifier]);
  const checkpoint = parseCheckpoint(note.text);
  const origin = options.origin ?? verifier.name;
  if (checkpoint.origin !== origin) {
    throw new CheckpointError(
      `checkpoint origin ${JSON.stringify(checkpoint.origin)} does not match ${JSON.stringify(origin)}`,
    );
  }
  return { checkpoint, note };
}

// The bag's log files: the bundled verifier key and the signed checkpoint it must open, and
// — when the auditor pins a key they got elsewhere — the same checkpoint under that key.

import { type Checkpoint, openCheckpoint } from '../../log/checkpoint.ts';
import { type NoteVerifier, parseVerifierKey } from '../../log/note.ts';
import { CHECKPOINT_FILE, KEY_FILE } from '../bag/export-layout.ts';
import { decodeUtf8, type ExportFiles } from './bag-zip.ts';
import type { Problems } from './problems.ts';

const MAX_LOG_FILE = 64 * 1024;

export interface LogState {
  /** The checkpoint the proofs are checked against: opened with the pinned key if given, else the bundled one. */
  checkpoint: Checkpoint | null;
  keyName: string | null;
  /** The key that opened `checkpoint` (pinned, else bundled; null if it did not open): other notes of
   * this log (a timestamped checkpoint) must open with it, and the witness check uses it. */
  verifier: NoteVerifier | null;
}

export const keyId = (v: NoteVerifier): string => `${v.name}+${v.keyHash.toString(16).padStart(8, '0')}`;

const sameKey = (a: NoteVerifier, b: NoteVerifier): boolean =>
  a.name === b.name && a.keyHash === b.keyHash && a.publicKey.equals(b.publicKey);

async function readText(bag: ExportFiles, path: string, problems: Problems): Promise<string | null> {
  if (!bag.has(path)) {
    problems.add(`${path} is missing`);
    return null;
  }
  const bytes = await bag.read(path, MAX_LOG_FILE);
  const text = bytes && decodeUtf8(bytes);
  if (text === null) problems.add(`${path} is larger than ${MAX_LOG_FILE} bytes or not UTF-8`);
  return text;
}

export async function checkLog(
  bag: ExportFiles,
  pinned: NoteVerifier | undefined,
  problems: Problems,
): Promise<LogState> {
  const state: LogState = { checkpoint: null, keyName: null, verifier: null };
  let bundled: NoteVerifier | undefined;
  const keyText = await readText(bag, KEY_FILE, problems);
  if (keyText !== null) {
    try {
      bundled = parseVerifierKey(keyText.replace(/\r?\n$/, ''));
      state.keyName = bundled.name;
    } catch (err) {
      problems.add(`${KEY_FILE} is not a verifier key (name+hexhash+base64key): ${(err as Error).message}`);
    }
  }
  const note = await readText(bag, CHECKPOINT_FILE, problems);
  if (note === null) return state;
  let fromBundled: Checkpoint | null = null;
  if (bundled) {
    try {
      fromBundled = openCheckpoint(note, bundled).checkpoint;
    } catch (err) {
      problems.add(
        `${CHECKPOINT_FILE} does not verify with the bundled key ${keyId(bundled)}: ${(err as Error).message}`,
      );
    }
  }
  if (!pinned) {
    state.checkpoint = fromBundled;
    state.verifier = fromBundled ? (bundled ?? null) : null;
    return state;
  }
  state.verifier = pinned;
  if (bundled && !sameKey(bundled, pinned)) {
    problems.add(`${KEY_FILE} holds ${keyId(bundled)}, not the pinned key ${keyId(pinned)}`);
  }
  try {
    state.checkpoint = openCheckpoint(note, pinned).checkpoint;
    state.verifier = pinned;
  } catch (err) {
    problems.add(
      `${CHECKPOINT_FILE} is not signed by the pinned key ${keyId(pinned)}: ${(err as Error).message}`,
    );
    // Keep checking the proofs against what the bag claims; the bag fails either way.
    state.checkpoint = fromBundled;
  }
  return state;
}
